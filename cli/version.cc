#include "cli/version.h"

#include "absl/strings/str_cat.h"

namespace backfill {

std::string VersionLine() {
  return absl::StrCat("backfill ", BuildVersion(), " (commit ", BuildCommit(),
                      ")");
}

}  // namespace backfill
