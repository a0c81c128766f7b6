#ifndef BACKFILL_THROTTLE_CONTROLLER_H_
#define BACKFILL_THROTTLE_CONTROLLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/mutex.h"
#include "backfill/throttle/pace.h"
#include "backfill/throttle/signal.h"

namespace backfill {

// Settings of a ThrottleController. Per-signal thresholds are not here: each
// Reading carries its own threshold and critical limit.
struct ThrottleOptions {
  // Source of time for staleness, accounting and the token bucket. Not
  // owned; must outlive the controller. Default (nullptr): Clock::Real().
  Clock* clock = nullptr;

  // Hysteresis. Writes pause when any signal's utilisation is >= 1 and, once
  // paused, resume only when every utilisation is below this. Default 0.8.
  // Lower resumes later and flaps less. Values >= 1 disable hysteresis.
  double resume_utilisation = 0.8;

  // A signal whose last reading is older than this counts as unreadable
  // (fail closed): a poller that hangs on a dead replica holds writes rather
  // than leaving the last good value in force. Default 2s, so a poller
  // reading every 100-500ms has plenty of slack. InfiniteDuration disables.
  absl::Duration staleness_limit = absl::Seconds(2);

  // --max-rows-per-second: long-run cap on rows written, enforced by a token
  // bucket through DelayFor / WaitUntilAllowed. 0 (default) = no cap.
  double max_rows_per_second = 0;
  // The proportional pace (Pace): a rows/s rate below the cap, raised while
  // every signal is comfortably under its threshold and lowered as one nears
  // it, enforced by the same token bucket. nullopt (default): no pace; the
  // signals only pause writes.
  std::optional<PaceOptions> pace;
  // Bucket size: rows that may go at once after an idle period. The bucket
  // starts full. 0 (default) = one second's worth of the rate in force (the
  // cap, or the pace when lower; at least 1 row). A chunk bigger than the
  // bucket waits for a full bucket and leaves a debt the next chunk waits
  // off, so the long-run rate still holds.
  int64_t burst_rows = 0;
  // ChunkRowsCap: a chunk under a rate covers at most this much time of it,
  // and at least chunk_cap_min_rows. Defaults 100ms and 1 row. MySQL runs
  // with 10ms and 100 rows (OpenPacing): one InnoDB primary core runs each
  // chunk's statement to its end while the application's statements queue
  // behind it, and at 10k rows/s 100-row chunks cost its p99 +16% where
  // 1000-row chunks cost +202% (bench/RESULTS.md).
  absl::Duration chunk_cap_time = absl::Milliseconds(100);
  int64_t chunk_cap_min_rows = 1;

  // WaitUntilAllowed sleeps at most this long between re-checks, so it notices
  // a resume, a critical reading or cancellation within one step. Default
  // 100ms (the heartbeat period).
  absl::Duration wait_step = absl::Milliseconds(100);

  // --ignore-unreachable-replicas N. While at most this many replica lag
  // signals (SignalKind::kReplicaLag) are unreadable
  // (failed, stale or not read yet), they are left out of the decision and
  // listed in Decision::ignored instead of holding writes; with more than N
  // unreadable, they all count again (fail closed). A replica that answers
  // but lags still holds writes. Default 0: every unreadable signal holds.
  int ignore_unreadable_replicas = 0;
};

// What the copier may do now.
struct Decision {
  enum class Action {
    kProceed,   // write the next chunk
    kWait,      // hold writes; ask again later
    kCritical,  // a --critical-* threshold is crossed: checkpoint, exit 4
  };
  Action action = Action::kProceed;
  // Why not kProceed, for the log, `status` and the progress line; empty when
  // kProceed. Formats:
  //   "replication_lag replica=r1 2.3s > 1s"          over threshold
  //   "probe_latency p95 80ms > 50ms"
  //   "throttle_query 12 > 10"
  //   "replication_lag replica=r1 900ms, resumes below 800ms"   hysteresis
  //   "replication_lag replica=r1 unreadable: connection refused"
  //   "replication_lag replica=r1 unreadable: no reading for 2.5s"   stale
  //   "replication_lag replica=r1 unreadable: no reading yet"
  //   "paused by operator"
  //   "critical: replication_lag replica=r1 12s > 10s"
  std::string reason;
  // Bounded-cardinality key of the reason, for the metrics label
  // backfill_throttle_seconds_total{reason}: the signal's name
  // ("replication_lag replica=r1"), "<name> unreadable", "<name> critical",
  // "paused by operator", or ThrottleController::kRateLabel for time waited on
  // the rows/s cap. Empty when kProceed.
  std::string label;
  // Unreadable replica signals left out under
  // ThrottleOptions::ignore_unreadable_replicas: signal name -> its reason
  // ("replication_lag replica=r1" -> "replication_lag replica=r1 unreadable:
  // connection refused"). Writes may proceed despite them; the run says so
  // loudly.
  std::map<std::string, std::string> ignored;

  bool proceed() const { return action == Action::kProceed; }
  bool critical() const { return action == Action::kCritical; }
};

// Snapshot of one signal, for status and metrics (e.g.
// backfill_replication_lag_seconds{replica} from reading->value).
struct SignalStatus {
  std::string name;
  SignalKind kind = SignalKind::kOther;
  std::string subject;             // Signal::subject
  std::optional<Reading> reading;  // the last one; nullopt before the first
  absl::Duration age = absl::InfiniteDuration();  // since the last Update
  double utilisation = 0;  // as counted: +inf when unreadable or stale
  std::string reason;      // Reading::Describe, or why it counts unreadable
};

// Snapshot of the controller as a whole, for status and metrics.
struct ThrottleState {
  bool throttled = false;  // backfill_throttled: writes are held (or critical)
  bool critical = false;
  std::string reason;  // as Decision::reason; empty when not throttled
  std::string label;   // as Decision::label
  // When the current throttled episode began (InfinitePast when not
  // throttled). A change of reason within an episode does not reset it.
  absl::Time since = absl::InfinitePast();
  // The pace in force (rows/s), 0 while unlimited or without
  // ThrottleOptions::pace, and the
  // signal that set it at its last step (the one nearest its threshold;
  // empty before the first step).
  bool paced = false;  // ThrottleOptions::pace is set
  double pace_rows_per_second = 0;
  std::string pace_signal;
};

// How WaitUntilAllowed ended.
struct WaitResult {
  enum class Outcome { kProceed, kCritical, kStopped };
  Outcome outcome = Outcome::kProceed;
  std::string reason;  // the critical reason, or the last wait reason
  absl::Duration waited = absl::ZeroDuration();  // by the injected clock
};

// The pacing controller (docs/DESIGN.md "Pacing"): pure logic, no I/O, time
// from an injected Clock.
//
// Inputs:
//   - Update(name, reading) from the signal poller thread(s), one call per
//     reading of each Signal;
//   - SetOperatorPause from whoever reads the pause flag;
//   - RecordChunk(rows) from the copier after each committed chunk.
// Outputs:
//   - Check(): may writes proceed now, and if not, why;
//   - DelayFor(rows) / WaitUntilAllowed: the --max-rows-per-second pacing;
//   - State(), Signals(), ThrottleTime(): for status, logs and metrics.
//
// Rules:
//   - any signal with utilisation >= 1 pauses writes; once paused, writes
//     resume only when every signal is below options.resume_utilisation;
//   - a failed reading, a reading older than options.staleness_limit, and a
//     registered signal that has not reported yet all count as utilisation
//     +inf (fail closed);
//   - the operator pause holds writes while set, independently of signals
//     and with no hysteresis;
//   - a reading past its critical limit makes Check() return kCritical;
//   - with ThrottleOptions::pace, once a period the pace steps toward the
//     rate at which the worst signal sits at the pace's target utilisation;
//     DelayFor then spaces chunks to the lower of the pace and the cap.
// When several reasons apply, Check() reports the most severe: critical,
// then the operator pause, then the signal with the highest utilisation
// (ties: the first by name).
//
// Chunk sizing stays with ChunkSizer (copier-owned): the controller decides
// when to write and how fast, not how much per chunk.
//
// Thread-safety: every method is thread-safe. Only WaitUntilAllowed sleeps,
// and never while holding the controller's lock.
class ThrottleController {
 public:
  // Labels under which WaitUntilAllowed accounts time spent waiting on the
  // --max-rows-per-second cap, and on the pace when it is below the cap.
  static constexpr absl::string_view kRateLabel = "max_rows_per_second";
  static constexpr absl::string_view kPaceLabel = "pace";

  explicit ThrottleController(const ThrottleOptions& options = {});

  ThrottleController(const ThrottleController&) = delete;
  ThrottleController& operator=(const ThrottleController&) = delete;

  // Declares a signal that must report before writes may start: until its
  // first Update it counts as unreadable ("no reading yet"). Register every
  // signal before the copier's first Check(). Idempotent (a later call sets
  // the kind and subject). Like any unreadable signal this engages the
  // hysteresis latch, so writes start once every registered signal has
  // reported below the resume level. A signal first seen in Update is of
  // kind kOther.
  void AddSignal(absl::string_view name, SignalKind kind = SignalKind::kOther,
                 std::string subject = "");

  // Records a reading of signal `name`, stamped with the clock's Now(), and
  // registers the signal if it was not. The reading replaces the previous
  // one of that signal.
  void Update(absl::string_view name, Reading reading);

  // Reads `signal` (outside the lock; Read() may block) and Updates it,
  // registering its kind and subject.
  void Poll(Signal& signal);

  // Sets or clears the operator pause (`backfill pause` / `resume`).
  void SetOperatorPause(bool paused);

  // Holds writes for a reason of the engine's own while `reason` is not
  // empty (the commit latency's quiet recheck, CommitLatency::Rechecking),
  // with the reason as the decision's reason and label; empty clears it.
  // Like the operator pause: no hysteresis, and the signals' pace is not
  // touched. Critical readings and the operator pause come first.
  void SetHold(absl::string_view reason);

  // Whether writes may proceed now. Re-evaluates staleness and hysteresis
  // at the clock's Now() and charges the time since the last evaluation to
  // the throttle reason then in force. Does not look at the rows/s cap.
  Decision Check();

  // How long from now until a chunk of `rows` rows fits the rate in force
  // (the rows/s cap, or the pace when lower): zero when there is neither or
  // the bucket holds min(rows, bucket size) tokens. Pure: takes nothing from
  // the bucket (RecordChunk does).
  absl::Duration DelayFor(int64_t rows) const;

  // The most rows a chunk should cover under the rate in force (the pace, or
  // the rows/s cap when lower): options.chunk_cap_time of it (a tenth of a
  // second by default), at least options.chunk_cap_min_rows; 0 when no rate
  // is in force. A chunk sized for the target chunk time at
  // full speed would otherwise go as one burst every few seconds, which the
  // application's commits feel as a stall.
  int64_t ChunkRowsCap() const;

  // Takes `rows` written rows from the token bucket (it may go into debt,
  // which later DelayFor calls wait off) and counts them toward the rate the
  // copier achieves (see Pace). Call once per committed chunk with the rows
  // it walked; a no-op without a cap or a pace.
  void RecordChunk(int64_t rows);

  // Blocks (through clock->SleepFor, at most options.wait_step at a time)
  // until Check() says proceed and DelayFor(rows) is zero, Check() says
  // critical, or `should_stop()` returns true (checked before every sleep;
  // put cancellation and slice deadlines in it). Takes no tokens. Calls
  // `on_wait` (if given) when a throttle begins and each time its label
  // changes, for the observer and the log; not for routine waits on the
  // rows/s cap. Time waited on the cap is accounted under kRateLabel.
  // Returns kProceed, kCritical (reason: Decision::reason) or kStopped
  // (reason: the last wait reason, empty if none). With a fake clock, SleepFor
  // advances time, so the loop runs in simulated time and ends once a
  // reading or the predicate changes.
  WaitResult WaitUntilAllowed(
      int64_t rows, absl::FunctionRef<bool()> should_stop,
      const std::function<void(const Decision&)>& on_wait = nullptr);

  // The current state, evaluated at Now() like Check().
  ThrottleState State();

  // One entry per registered signal, sorted by name, evaluated at Now().
  std::vector<SignalStatus> Signals();

  // The pace in force and why, for `backfill status`: "pace 1200 rows/s
  // (throttle_query 9 < 10)", the signal that set it at its last step; then
  // every signal with a quiet floor (the commit latency's baseline) not
  // already named: "pace unlimited; commit_latency p95 1.3ms < 1.65ms,
  // quiet 1.1ms". Empty without ThrottleOptions::pace.
  std::string PacingSummary();

  // Total time spent throttled, per Decision::label, including the episode
  // in progress up to Now(). For backfill_throttle_seconds_total{reason}.
  std::map<std::string, absl::Duration> ThrottleTime();

 private:
  struct Entry {
    SignalKind kind = SignalKind::kOther;
    std::string subject;
    std::optional<Reading> reading;
    absl::Time updated_at = absl::InfinitePast();
  };

  // Whether `entry` has a fresh, usable reading at `now`; if not, it counts
  // as unreadable. Utilisation as counted at `now`, and its reason.
  bool Readable(const Entry& entry, absl::Time now) const;
  double Utilisation(const Entry& entry, absl::Time now) const;
  std::string Reason(const std::string& name, const Entry& entry,
                     absl::Time now) const;

  // One pass over the signals at `now`: the one with the highest
  // utilisation (ties: the first by name), the most critical one (highest
  // value / critical), and the unreadable replicas left out.
  struct Scan {
    const std::string* worst_name = nullptr;
    const Entry* worst_entry = nullptr;  // null: no signal counts
    double worst = 0;
    const std::string* critical_name = nullptr;
    const Entry* critical_entry = nullptr;
    std::vector<const std::string*> ignored;
  };
  // The unreadable replica signals ThrottleOptions::ignore_unreadable_replicas
  // leaves out: all of them, or none.
  std::vector<const std::string*> IgnoredLocked(absl::Time now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  Scan ScanLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The decision for `scan` with the latch and operator pause as they are.
  Decision DecideLocked(const Scan& scan, absl::Time now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Charges time since the last evaluation, then recomputes the state.
  Decision EvaluateLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The rate the bucket enforces (rows/s; 0: none), its size, and the
  // tokens in it at `now` (may be negative: debt).
  double RateLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  double BucketLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  double TokensLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // One step of the pace, if one is due, with the worst utilisation `worst`
  // of signal `name`.
  void StepPaceLocked(absl::Time now, double worst, const std::string* name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The reason of a wait on the bucket: "max_rows_per_second 5000" or
  // "pace 1200 rows/s (<signal reason>)"; sets *label.
  std::string RateWaitReasonLocked(std::string* label)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const ThrottleOptions options_;
  Clock* const clock_;

  mutable Mutex mu_;
  std::map<std::string, Entry, std::less<>> signals_ ABSL_GUARDED_BY(mu_);
  bool operator_pause_ ABSL_GUARDED_BY(mu_) = false;
  std::string hold_ ABSL_GUARDED_BY(mu_);  // SetHold
  // Hysteresis latch: set at utilisation >= 1, cleared below resume level.
  bool signal_paused_ ABSL_GUARDED_BY(mu_) = false;
  Decision current_ ABSL_GUARDED_BY(mu_);
  absl::Time throttled_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_evaluated_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Duration> throttle_time_ ABSL_GUARDED_BY(mu_);
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time tokens_at_ ABSL_GUARDED_BY(mu_);
  std::optional<Pace> pace_ ABSL_GUARDED_BY(mu_);
  std::string pace_signal_ ABSL_GUARDED_BY(mu_);  // worst at the last step
  std::string pace_reason_ ABSL_GUARDED_BY(mu_);  // its Describe()
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_CONTROLLER_H_
