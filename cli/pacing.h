#ifndef BACKFILL_CLI_PACING_H_
#define BACKFILL_CLI_PACING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/signal_factory.h"
#include "engine/commit_latency.h"
#include "engine/dsn.h"
#include "engine/pacer.h"
#include "throttle/clock.h"
#include "throttle/controller.h"

namespace CLI {
class App;
}  // namespace CLI

namespace backfill {

// The pacing flags of `backfill run` (DESIGN.md "Pacing"), as strings and
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

// The pacing flags, checked. kInvalidArgument naming the flag for a bad
// duration or number or an inconsistent combination.
struct PacingSettings {
  std::vector<std::string> replicas;
  LagLimits lag;              // lag.max_lag zero: lag throttling off
  bool lag_explicit = false;  // --max-lag or --critical-lag was given
  absl::Duration max_latency = absl::ZeroDuration();  // zero: no probe
  std::string probe_query = "SELECT 1";
  std::string throttle_query;  // empty: none
  double throttle_threshold = 0;
  double max_rows_per_second = 0;
  // --max-commit-latency (engine/commit_latency.h); enabled by default at
  // kDefaultMaxCommitLatency (ParseCommitLatencyFlag).
  CommitLatencyLimit commit_latency;
  // --max-load / --critical-load, one entry per variable.
  std::vector<LoadLimit> load;
  absl::Duration lock_timeout = absl::Seconds(2);
  // Unreachable --replica signals that may be ignored, loudly
  // (ThrottleOptions::ignore_unreadable_replicas). Default 0.
  int ignore_unreachable_replicas = 0;
  // Writes still to come after a pause decision (the chunk in flight): the
  // horizon of each --replica's lag forecast (LagTrend). The target chunk
  // time; RunCommand sets it.
  absl::Duration lag_horizon = absl::Milliseconds(500);
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

// The chunk time a run should size its chunks to, given `target` from
// --target-chunk-time (`target_given`: set on the command line or in
// --config) and the primary's kind. A MySQL replica applies a chunk only
// after the primary has committed it, as one transaction taking about as
// long as it took there, and the heartbeat queued behind it waits: each
// chunk alone holds the replica about one chunk time behind. So on MySQL
// with --replica, the default target is cut to a tenth of --max-lag (100ms
// at 1s), which keeps a chunk started at the resume level (0.8) under the
// limit even on a replica that applies more slowly than the primary. An
// explicit target above that is kept, with a note in `notes`. PostgreSQL
// replays WAL as it streams, heartbeats interleaved: `target` as is.
absl::Duration ChunkTimeForReplicas(const PacingSettings& settings,
                                    DatabaseKind kind, absl::Duration target,
                                    bool target_given,
                                    std::vector<std::string>* notes);

// What the pacing of a run with `settings` watches, one line per signal,
// for --dry-run and the start of a run: "commit latency: the p95 of a
// one-row commit on the primary, at most 2x its quiet baseline (measured
// for 2s before the first chunk)", "replication lag of 127.0.0.1:55433 up to
// 1s", "load Threads_running up to 25, critical 50", ..., and how the pace
// moves between them. Empty when nothing paces the run.
std::vector<std::string> DescribePacing(const PacingSettings& settings);

// A run's pacing: the controller the copier waits on and the pacer that
// feeds it, plus notes for the operator about what is not watched.
struct Pacing {
  std::unique_ptr<ThrottleController> controller;  // null: no pacing at all
  std::unique_ptr<Pacer> pacer;                    // null: no signals
  std::vector<std::string> notes;
};

// Opens every signal `settings` asks for against the primary `primary`
// (whose kind decides the implementation) for job `job`, each on its own
// connection:
//   - with --replica: the heartbeat on the primary and one lag signal per
//     replica; on PostgreSQL --max-lag-bytes adds pg_stat_replication bytes;
//   - without, on PostgreSQL: the heartbeat (whose writes keep standbys'
//     reports fresh) and pg_stat_replication (time, and bytes with
//     --max-lag-bytes); a note, and no lag signal, when no standby is
//     connected;
//   - without, on MySQL: a note that lag is not watched, or
//     kInvalidArgument when --max-lag, --critical-lag or --max-lag-bytes was
//     given (a MySQL primary cannot see its replicas' lag);
//   - --max-latency: the probe; --throttle-query: its signal (read every
//     250ms; the others every 100ms).
// A replica's password is its URI's, else `primary.password`. Errors are
// bad input (exit 2): bad URIs, a replica of another kind, rejected
// credentials, a failing query. Nothing is started.
absl::StatusOr<std::unique_ptr<Pacing>> OpenPacing(
    const PacingSettings& settings, const ConnectOptions& primary,
    const std::string& job, Clock* clock);

}  // namespace backfill

#endif  // BACKFILL_CLI_PACING_H_
