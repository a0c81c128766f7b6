#ifndef BACKFILL_ENGINE_COMMIT_LATENCY_H_
#define BACKFILL_ENGINE_COMMIT_LATENCY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backfill/throttle/latency_window.h"
#include "backfill/throttle/mutex.h"
#include "backfill/throttle/signal.h"

namespace backfill {

// --max-commit-latency: how long the primary takes to write and commit one
// row, which is what every commit of the application waits on (the WAL or
// redo log flush, the binlog group commit, a synchronous standby). The
// heartbeat's own upserts are timed: one autocommit statement each, on a
// connection of its own, with the server's normal durability.
struct CommitLatencyLimit {
  // The heartbeat's period while the commit latency is watched
  // (PacerOptions::heartbeat_interval): 20 one-row commits a second, a
  // small fraction of any primary's commits, for twice the samples.
  static constexpr absl::Duration kBeatInterval = absl::Milliseconds(50);

  // Off (the default here; the CLI turns it on): beats are reported as the
  // "heartbeat" signal alone.
  bool enabled = false;
  // The limit relative to the quiet baseline: factor x baseline, and at
  // least baseline + min_headroom, so that a limit is never inside the
  // noise of a quiet p95: on the benchmark machine a quiet 5 s window's p95
  // of a 1 ms commit read anywhere from 1.0 to 1.8 ms, so a limit 0.25 ms
  // above it held a quiet server (bench/RESULTS.md). Used when factor > 0.
  double factor = 0;
  absl::Duration min_headroom = absl::Microseconds(500);
  // Else an absolute limit (> 0).
  absl::Duration max = absl::ZeroDuration();
  // The signal is the p95 of the beats of the last `window`. Default 10s:
  // 200 beats at kBeatInterval. A 5 s window of 50 beats read a quiet
  // MariaDB's p95 anywhere from 0.9 to 1.5 ms, which a 1.25x limit cannot
  // tell from harm (bench/RESULTS.md).
  absl::Duration window = absl::Seconds(10);
  // The baseline: beats every `baseline_interval` for `baseline_time`
  // before the first chunk, while the run writes nothing; the median of the
  // p95s of their groups of 10 (CommitLatency::SetBaseline). Lowered during
  // the run when a window shows it too high (CommitLatency::Record).
  absl::Duration baseline_time = absl::Seconds(3);
  // A baseline measured by an earlier run of the job (the previous slice's
  // RunReport::commit_latency_baseline): taken as is, so that a runner
  // calling short slices does not spend baseline_time of each measuring.
  // Zero (default): measured at start.
  absl::Duration known_baseline = absl::ZeroDuration();
  absl::Duration baseline_interval = absl::Milliseconds(50);
  // The quiet recheck. The run's own writes only ever add to the commit
  // latency, so the quiet figure can be seen again only by not writing for a
  // moment: `recheck_first` after the start and every `recheck_every` after
  // that, writes hold for `recheck_time` while the beats measure the quiet
  // p95 again as SetBaseline does (not counting those of the first
  // `recheck_settle`, which the chunk in flight may still slow); a lower
  // figure lowers the baseline, a higher one is ignored. Without it a
  // baseline caught during a checkpoint or a purge leaves the limit lax for
  // the whole run: on MariaDB one start measured 2.24 ms for a 0.95 ms
  // commit, the default then ran at 25k rows/s and the foreground's p99 was
  // 200 ms (bench/RESULTS.md). Costs recheck_time / recheck_every of the
  // run (2.5%). Zero recheck_every: never.
  absl::Duration recheck_first = absl::Seconds(15);
  absl::Duration recheck_every = absl::Minutes(2);
  absl::Duration recheck_time = absl::Seconds(3);
  absl::Duration recheck_settle = absl::Milliseconds(500);
};

// The commit-latency signal's state: the baseline, the limit it gives, and
// the window of recent beats. Pure (times come from the caller).
// Thread-safe: the Pacer's heartbeat thread records beats while the run
// reads the baseline and the limit.
class CommitLatency {
 public:
  static constexpr char kName[] = "commit_latency p95";
  // The reason writes hold during a quiet recheck (ThrottleController::
  // SetHold), also its metrics label.
  static constexpr char kRecheckReason[] = "measuring the quiet commit latency";

  explicit CommitLatency(const CommitLatencyLimit& limit);

  // Sets the baseline from the quiet beats measured before the first chunk,
  // in the order they were taken: the median of the p95s of consecutive
  // groups of 10 beats (one group when there are fewer than 20), so that a
  // stall of the disk during the measurement does not become the baseline.
  // kUnavailable when fewer than 5 beats succeeded: the primary could not
  // be written to.
  absl::Status SetBaseline(const std::vector<absl::Duration>& beats);

  // The reading after a beat that ended at `at` and took `took` (or failed
  // with `error`): the p95 of the window against the limit, with the
  // baseline as its floor (Reading::floor) when the baseline is below the
  // limit. Unreadable before SetBaseline succeeded.
  //
  // The baseline is a snapshot of a few seconds, and a checkpoint, a purge
  // or a disk stall in those seconds can make it several times the quiet
  // figure, and a relative limit as lax for the whole run. The run's own
  // writes only ever add to the commit latency, so a window of at least
  // kMinCorrectionBeats beats whose p95 is below kCorrectionMargin x the
  // baseline proves the baseline too high: it is lowered to that p95 (the
  // limit with it), never raised. The margin keeps the window-to-window
  // noise of a quiet p95 (about 20%) from ratcheting it down.
  //
  // `held_since`: when the run's writes began to be held (ThrottleState::
  // since), or nullopt while it writes. Once writes have been held for a
  // whole window plus recheck_settle, every beat in the window was taken
  // while the run wrote nothing: the window's p95 is a quiet figure, and
  // becomes the baseline, higher or lower. Without that a baseline caught
  // in a lucky moment holds writes for as long as the server stays
  // noisier than it, which no restraint of the run can end: on the
  // benchmark's PostgreSQL a recheck read 1.7 ms and the beats then read
  // 3.7 ms for 46 s with nothing written (bench/RESULTS.md).
  Reading Record(absl::Time at, absl::Duration took,
                 std::optional<absl::Time> held_since = std::nullopt);
  Reading Failed(const absl::Status& error);

  // Starts the quiet rechecks' schedule at `now` (once the baseline is
  // known: Pacer::Start).
  void StartRechecks(absl::Time now);
  // Whether writes should hold at `now` for a quiet recheck, starting one
  // when it is due. Record ends it once recheck_time has passed. Call before
  // each beat.
  bool Rechecking(absl::Time now);

  static constexpr int kMinCorrectionBeats = 40;
  static constexpr double kCorrectionMargin = 0.8;

  std::optional<absl::Duration> baseline() const;
  // The limit in force: set at construction for an absolute limit, by
  // SetBaseline (and lowered by Record) for a relative one.
  std::optional<absl::Duration> limit() const;
  // How many times Record lowered the baseline.
  int corrections() const;
  // How many times a held window set it (Record's `held_since`).
  int held_rebaselines() const;

  // One line for the operator, once the baseline is known: "commit latency:
  // quiet p95 1.1ms over 60 writes; writes slow down as the p95 nears 2.2ms
  // (2x the quiet p95) and pause above it".
  std::string Describe() const;

 private:
  void SetBaselineLocked(absl::Duration baseline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The held-window rule of Record: the baseline from a window of beats
  // all taken while writes were held since `held_since`.
  void RebaselineIfHeldLocked(absl::Time at, absl::Duration p95,
                              std::optional<absl::Time> held_since)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A beat of a recheck in progress; ends the recheck when it is over.
  void RecheckBeatLocked(absl::Time at, absl::Duration took)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CommitLatencyLimit options_;
  mutable Mutex mu_;
  std::optional<absl::Duration> baseline_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Duration> limit_ ABSL_GUARDED_BY(mu_);
  int baseline_beats_ ABSL_GUARDED_BY(mu_) = 0;
  int corrections_ ABSL_GUARDED_BY(mu_) = 0;
  int held_rebaselines_ ABSL_GUARDED_BY(mu_) = 0;
  // The hold whose window last set the baseline: one rebaseline per hold
  // and window, not one per beat.
  std::optional<absl::Time> rebaselined_at_ ABSL_GUARDED_BY(mu_);
  LatencyWindow window_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> next_recheck_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> recheck_started_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> recheck_beats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_COMMIT_LATENCY_H_
