#include "cli/argv_scrub.h"

#include <cstring>
#include <string>

#include "backfill/engine/dsn.h"

namespace backfill {

void ScrubArgv(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const size_t length = std::strlen(argv[i]);
    const std::string redacted = RedactDsn(argv[i]);
    if (redacted == argv[i]) continue;
    const size_t n = redacted.size() < length ? redacted.size() : length;
    std::memcpy(argv[i], redacted.data(), n);
    std::memset(argv[i] + n, 0, length - n);
  }
}

}  // namespace backfill
