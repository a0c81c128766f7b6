#ifndef BACKFILL_BACKFILL_PACING_H_
#define BACKFILL_BACKFILL_PACING_H_

// Pacing of a run, as the library's policy (docs/DESIGN.md "Pacing"): which
// signals watch the primary and its replicas, how the controller and the
// pacer that feeds it are built, and the chunk time a MySQL replica needs.
// The `backfill` command maps its flags onto PacingOptions and calls these;
// a job runner does the same, or passes PacingOptions to backfill::Run.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/adapters/signal_factory.h"
#include "backfill/engine/commit_latency.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/job.h"
#include "backfill/engine/pacer.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/controller.h"

namespace backfill {

// What paces a run. The defaults are the command's: commit latency at 2x
// its quiet baseline, lag limit 1s on the replicas given (PostgreSQL
// without replicas: the standbys of pg_stat_replication), nothing else.
// OpenPacing checks the combination first (CheckPacingOptions).
struct PacingOptions {
  // Replica DSNs whose lag the heartbeat measures; same kind as the primary.
  // A replica DSN without a password takes the primary's.
  std::vector<std::string> replicas;
  LagLimits lag;  // lag.max_lag zero: lag throttling off
  // The lag limits were asked for explicitly. On MySQL without replicas
  // that is bad input (a primary cannot see its replicas' lag); without it
  // the run only notes that lag is not watched.
  bool lag_explicit = false;
  absl::Duration max_latency = absl::ZeroDuration();  // zero: no probe
  std::string probe_query = "SELECT 1";
  std::string throttle_query;  // empty: none
  double throttle_threshold = 0;
  double max_rows_per_second = 0;  // 0: no cap
  // backfill/engine/commit_latency.h; on by default at 2x the quiet baseline.
  CommitLatencyLimit commit_latency = DefaultCommitLatency();
  std::vector<LoadLimit> load;  // one entry per variable
  // Unreachable replicas that may be ignored, loudly
  // (ThrottleOptions::ignore_unreadable_replicas). Default 0.
  int ignore_unreachable_replicas = 0;

  // The default commit-latency limit: 2x the quiet baseline.
  static CommitLatencyLimit DefaultCommitLatency();
};

// kInvalidArgument, "<option>: <why>" naming the PacingOptions member, for
// an inconsistent combination: a negative duration or number, a critical
// limit not above its max (lag.critical_lag, load.critical), replicas or a
// critical lag with lag watching off (lag.max_lag 0),
// ignore_unreachable_replicas without replicas, a throttle_query without a
// threshold above 0, an empty probe_query under a max_latency, a commit
// latency turned on with neither a factor above 1 nor a max, a load limit
// without a variable or a value, or a variable given twice. OK otherwise.
absl::Status CheckPacingOptions(const PacingOptions& pacing);

// The chunk time a run on a `kind` primary should size its chunks to, given
// `target` (ChunkSizerOptions::target_chunk_time; `target_given`: chosen by
// the user rather than defaulted). A MySQL replica applies a chunk only
// after the primary has committed it, as one transaction taking about as
// long as it took there, and the heartbeat queued behind it waits: each
// chunk alone holds the replica about one chunk time behind. So on MySQL
// with replicas, the default target is cut to a tenth of the lag limit
// (100ms at 1s), which keeps a chunk started at the resume level (0.8)
// under the limit even on a replica that applies more slowly than the
// primary. A chosen target above that is kept, with a note in `notes`.
// PostgreSQL replays WAL as it streams, heartbeats interleaved: `target` as
// is.
absl::Duration ChunkTimeForReplicas(const PacingOptions& pacing,
                                    DatabaseKind kind, absl::Duration target,
                                    bool target_given,
                                    std::vector<std::string>* notes);

// The pace of a run with `pacing` (ThrottleOptions::pace): PaceOptions's
// defaults, except that with the commit latency on, a step up is at most
// 2^(period / window): the rate at most doubles over one window of the
// signal (10 s). A rate that rises faster than its p95 can show the cost
// overshoots, is held, and comes back as a burst: on the benchmark's
// MariaDB the default (steps of x1.25 a second) ran 34k rows/s between
// holds and the foreground's p99 tripled (bench/RESULTS.md).
PaceOptions PaceFor(const PacingOptions& pacing);

// What a run with `pacing` watches, one line per signal, for a plan and the
// start of a run: "commit latency: the p95 of a one-row write and commit on
// the primary, at most 2x its quiet baseline (...)", "replication lag of
// 127.0.0.1:55433 up to 1s", "load Threads_running up to 25, critical at
// 50", ..., and how the pace moves between them. Empty when nothing paces
// the run.
std::vector<std::string> DescribePacing(const PacingOptions& pacing);

// A run's pacing: the controller the copier waits on and the pacer that
// feeds it, plus notes for the operator about what is not watched.
struct Pacing {
  std::unique_ptr<ThrottleController> controller;  // null: no pacing at all
  std::unique_ptr<Pacer> pacer;                    // null: no signals
  std::vector<std::string> notes;

  // Starts the pacer, if any: the commit latency's quiet baseline is
  // measured first (CommitLatencyLimit::baseline_time), before the first
  // chunk, and told to `observer` (may be null): OnNote with the baseline,
  // or OnWarning when none could be measured (writes then hold until beats
  // succeed).
  void Start(Observer* observer);
  // Stops the pacer's threads. Idempotent; also done on destruction.
  void Stop();
  // The commit-latency state, or nullptr when it is off.
  const CommitLatency* commit_latency() const;
};

// Opens every signal `pacing` asks for against `primary` (whose kind
// decides the implementation) for job `job`, each on its own connection:
//   - with replicas: the heartbeat on the primary and one lag signal per
//     replica, each read through a forecast (LagTrend) over
//     `target_chunk_time` (the writes still to come after a hold; 500ms
//     when zero); on PostgreSQL max_lag_bytes adds pg_stat_replication
//     bytes;
//   - without, on PostgreSQL: the heartbeat (whose writes keep standbys'
//     reports fresh) and pg_stat_replication (time, and bytes with
//     max_lag_bytes); a note, and no lag signal, when no standby is
//     connected;
//   - without, on MySQL: a note that lag is not watched, or
//     kInvalidArgument when lag_explicit or max_lag_bytes (a MySQL primary
//     cannot see its replicas' lag);
//   - max_latency: the probe; throttle_query and load: their signals, read
//     every 250ms (the others every 100ms);
//   - commit latency: timed on the heartbeat, which runs for it alone when
//     nothing else needs it.
// Errors are bad input: CheckPacingOptions's (before anything is opened), bad
// DSNs, a replica of another kind, rejected credentials, a failing query. Their
// messages begin with the PacingOptions member they are about, as "<option>:
// <why>" ("replicas: ...", "replicas HOST:PORT: ...", "lag.max_lag_bytes: ...",
// "probe_query: ...", "throttle_query: ...", "load: ..."), other members
// inside them in backquotes (`lag.max_lag`), which the CLI turns into its
// flag names (cli/flag_terms.h). Nothing is started (Pacing::Start).
absl::StatusOr<std::unique_ptr<Pacing>> OpenPacing(
    const PacingOptions& pacing, const ConnectOptions& primary,
    const std::string& job, absl::Duration target_chunk_time, Clock* clock);

}  // namespace backfill

#endif  // BACKFILL_BACKFILL_PACING_H_
