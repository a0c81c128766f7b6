#ifndef BACKFILL_CLI_VERSION_H_
#define BACKFILL_CLI_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace backfill {

// The project version of this build, e.g. "0.1.0" (CMake's PROJECT_VERSION).
absl::string_view BuildVersion();

// The git commit this binary was built from: a 12-digit abbreviated hash,
// with "-dirty" when tracked files had uncommitted changes, or "unknown" when
// the source was not a git checkout (or git was missing). Computed at build
// time (cmake/version_info.cmake), so it is right after every commit without
// reconfiguring; -DBACKFILL_GIT_COMMIT=HASH overrides it for builds from a
// source tarball.
absl::string_view BuildCommit();

// What `backfill --version` prints: "backfill 0.1.0 (commit 0123456789ab)".
std::string VersionLine();

}  // namespace backfill

#endif  // BACKFILL_CLI_VERSION_H_
