#ifndef BACKFILL_CLI_RUN_FLAGS_H_
#define BACKFILL_CLI_RUN_FLAGS_H_

// The flags of `backfill run` (and of `verify`, `status`, `pause`), declared
// once for the command and for the C ABI (backfill/backfill_c.h), which takes
// the same arguments; and what a run takes from them, checked before
// anything connects.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/job_spec.h"
#include "backfill/throttle/chunk_sizer.h"
#include "cli/flags.h"
#include "cli/pacing.h"

namespace backfill {

// --dsn, --password-file, --defaults-file, --job on `cmd`.
void AddCommon(CLI::App* cmd, CommonFlags* f, bool job_required);
// The SHAPE flags and chunk sizing, shared by `run` and `verify`.
void AddShapeFlags(CLI::App* cmd, RunFlags* f);
// Everything `run` takes.
void AddRunFlags(CLI::App* run, RunFlags* f);

// A CLI11 parse error as the one line the user reads: an unknown --config
// key named as such, and no password of a DSN echoed back (RedactDsn).
std::string ParseErrorMessage(const CLI::Error& error);

// `args` (no program name) parsed as `backfill run`'s flags, --config FILE
// (a TOML job file) included, into RunFlags with target_chunk_time_given
// set. kInvalidArgument with ParseErrorMessage's line for unknown flags,
// missing values or a config file that does not parse; help and version
// flags are unknown here.
absl::StatusOr<RunFlags> ParseRunArgs(const std::vector<std::string>& args);

// What `backfill run` takes from its flags, all checked before connecting.
struct RunInput {
  JobSpec spec;
  ChunkSizerOptions chunking;
  PacingSettings pacing;
  absl::Duration retry_for = absl::Minutes(5);
  absl::Duration max_duration = absl::InfiniteDuration();
  ConnectOptions connect;
};

// kInvalidArgument naming the flag for a bad shape, chunking, pacing,
// duration, or an unreadable --password-file.
absl::StatusOr<RunInput> ParseRunInput(const RunFlags& flags);

}  // namespace backfill

#endif  // BACKFILL_CLI_RUN_FLAGS_H_
