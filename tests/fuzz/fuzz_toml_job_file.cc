// Fuzz target: the TOML job file (cli/toml_config.h, toml++ underneath) and
// the run arguments read from it (cli/run_flags.h ParseRunArgs --config).
//
// Any text: TomlConfig::from_config returns items or throws CLI::ParseError,
// nothing else; ParseRunArgs on a file of that text returns flags or
// kInvalidArgument with a one-line message.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/run_flags.h"
#include "cli/toml_config.h"

namespace {

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_toml_job_file: %s\n", what);
  std::abort();
}

// One file per process, rewritten for each input.
const std::string& JobFile() {
  static const std::string path = [] {
    char tmpl[] = "/tmp/backfill-fuzz-toml-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd >= 0) close(fd);
    return std::string(tmpl);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  try {
    (void)backfill::TomlConfig().from_config(in);
  } catch (const CLI::ParseError&) {
    // A syntax error, named as such: expected.
  }
  std::ofstream(JobFile(), std::ios::binary | std::ios::trunc) << text;
  absl::StatusOr<backfill::RunFlags> flags =
      backfill::ParseRunArgs({"--config", JobFile()});
  if (!flags.ok()) {
    Require(flags.status().code() == absl::StatusCode::kInvalidArgument,
            "ParseRunArgs failed with a code other than kInvalidArgument");
    Require(flags.status().message().find('\n') == absl::string_view::npos,
            "ParseRunArgs's message spans lines");
  }
  return 0;
}
