#ifndef BACKFILL_CLI_FLAGS_H_
#define BACKFILL_CLI_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/job.h"
#include "backfill/engine/job_spec.h"
#include "cli/pacing.h"

namespace backfill {

// Exit codes of the `backfill` command (docs/DESIGN.md).
enum ExitCode : int {
  kExitOk = 0,        // done
  kExitFailure = 1,   // runtime failure; checkpoint intact
  kExitBadInput = 2,  // bad input; nothing written
  kExitStopped = 3,   // stopped cleanly; resumable
  kExitCritical = 4,  // a --critical-* threshold was crossed
  kExitSliceEnd = 5,  // --max-duration reached; checkpoint committed, run again
};

// The exit code of a run that ended with `outcome`: kExitOk, kExitStopped
// (stopped or paused), kExitCritical or kExitSliceEnd.
int ExitCodeFor(RunOutcome outcome);

// Flags shared by every subcommand.
struct CommonFlags {
  std::string dsn;
  std::string password_file;
  std::string defaults_file;  // MySQL option file (ConnectOptions)
  std::string job;
  // --statement-timeout D (ConnectOptions::statement_timeout); 0 = none.
  std::string statement_timeout = "30s";
};

// Flags of `backfill run` (and, later, `verify`), as strings and numbers
// straight from CLI11 or the --config file.
struct RunFlags {
  CommonFlags common;
  std::string table;
  std::string from;
  std::string into;
  std::string on;
  std::vector<std::string> sets;
  std::string columns;
  std::string where;
  std::string key;
  int64_t chunk_rows = 1000;
  std::string target_chunk_time = "500ms";
  // Whether --target-chunk-time was given (command line or --config), as
  // opposed to defaulted; main() sets it. See ChunkTimeForReplicas.
  bool target_chunk_time_given = false;
  int64_t min_chunk_rows = 10;
  int64_t max_chunk_rows = 1000000;
  bool dry_run = false;
  bool restart = false;
  std::string log_format = "auto";
  PacingFlags pacing;  // run only
  // --retry-for D: how long a lost connection is retried
  // (RunOptions::retry_for). Default 5m.
  std::string retry_for = "5m";
  // --max-duration D: end the run after about D plus the chunk in flight
  // (RunOptions::max_duration), exit kExitSliceEnd. Empty: no limit.
  std::string max_duration;
  // IP:PORT to serve Prometheus /metrics on for the life of the run; empty
  // (default) serves nothing.
  std::string metrics_listen;
};

// The shape follows from the flags: --into means copy (with --from as the
// old table), --from alone means join, neither means column. Returns
// kInvalidArgument naming the flag for any inconsistent combination.
absl::StatusOr<JobSpec> BuildJobSpec(const RunFlags& flags);

// Chunking options from the pacing flags. kInvalidArgument for a bad
// duration or bounds that do not fit.
absl::StatusOr<ChunkSizerOptions> BuildChunking(const RunFlags& flags);

// The DSN plus a password read from --password-file (first line, trailing
// newline removed) and --defaults-file. kInvalidArgument if the password
// file cannot be read.
absl::StatusOr<ConnectOptions> BuildConnectOptions(const CommonFlags& flags);

}  // namespace backfill

#endif  // BACKFILL_CLI_FLAGS_H_
