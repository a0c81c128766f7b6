#ifndef BACKFILL_CLI_PACING_H_
#define BACKFILL_CLI_PACING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/commit_latency.h"
#include "backfill/pacing.h"

namespace CLI {
class App;
}  // namespace CLI

namespace backfill {

// The pacing flags of `backfill run` (docs/DESIGN.md "Pacing"), as strings and
// numbers straight from CLI11 or the --config file. Empty strings mean "not
// given", so that defaults can depend on the database.
struct PacingFlags {
  std::vector<std::string> replicas;  // --replica URI (repeatable)
  std::string max_lag;                // --max-lag D, default 1s; 0 = off
  int64_t max_lag_bytes = 0;          // --max-lag-bytes N (PostgreSQL)
  std::string critical_lag;           // --critical-lag D
  std::string max_latency;            // --max-latency D: probe off unless given
  std::string probe_query;            // --probe-query SQL, default SELECT 1
  std::string throttle_query;         // --throttle-query SQL
  std::string throttle_threshold;     // --throttle-threshold X
  double max_rows_per_second = 0;     // --max-rows-per-second N; 0 = no cap
  std::string max_commit_latency;     // --max-commit-latency D|Nx|0
  std::string max_load;               // --max-load VAR=N[,VAR=N...]
  std::string critical_load;          // --critical-load VAR=N[,VAR=N...]
  std::string lock_timeout = "2s";    // --lock-timeout D; 0 = server default
  int ignore_unreachable_replicas = 0;  // --ignore-unreachable-replicas N
};

// Declares the flags above on `run`.
void AddPacingFlags(CLI::App* run, PacingFlags* flags);

// A duration flag's text: empty keeps `*out`; otherwise a finite duration
// >= 0 (> 0 unless `allow_zero`), or kInvalidArgument "<flag>: \"<text>\"
// is not a duration ...".
absl::Status ParseDurationFlag(absl::string_view flag, const std::string& text,
                               absl::Duration* out, bool allow_zero = true);

// The pacing flags, checked, as the library's PacingOptions
// (backfill/pacing.h) plus the chunk transactions' lock wait.
// kInvalidArgument naming the flag for a bad duration or number or an
// inconsistent combination.
struct PacingSettings : PacingOptions {
  absl::Duration lock_timeout = absl::Seconds(2);  // RunOptions::lock_timeout
};
absl::StatusOr<PacingSettings> ParsePacingFlags(const PacingFlags& flags);

// The default of --max-commit-latency: this many times the quiet baseline.
inline constexpr char kDefaultMaxCommitLatency[] = "2x";

// "1.5x" (times the quiet baseline), a duration ("5ms"), or "0" (off), as
// --max-commit-latency takes it. kInvalidArgument naming the flag otherwise.
absl::StatusOr<CommitLatencyLimit> ParseCommitLatencyFlag(
    absl::string_view text);

// "Threads_running=25,Threads_connected=500" as --max-load and
// --critical-load take them, merged by variable. kInvalidArgument naming
// the flag for a malformed list, a number that is not above 0, or a
// variable given twice in one flag.
absl::StatusOr<std::vector<LoadLimit>> ParseLoadFlags(
    absl::string_view max_load, absl::string_view critical_load);

}  // namespace backfill

#endif  // BACKFILL_CLI_PACING_H_
