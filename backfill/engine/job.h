#ifndef BACKFILL_ENGINE_JOB_H_
#define BACKFILL_ENGINE_JOB_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backfill/engine/checkpoint.h"
#include "backfill/engine/database.h"
#include "backfill/engine/job_spec.h"
#include "backfill/throttle/chunk_sizer.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/controller.h"

namespace backfill {

// Asks a running job to stop at the next chunk boundary. The chunk in flight
// finishes and commits with its checkpoint first (docs/DESIGN.md invariant 8).
// Thread-safe and async-signal-safe to Cancel().
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

// A snapshot of a run's progress, handed to the observer after each chunk.
struct Progress {
  const Checkpoint* checkpoint = nullptr;  // as committed with the chunk
  int64_t next_chunk_rows = 0;             // size chosen for the next chunk
  absl::Duration last_chunk_time;          // wall time of the chunk just done
  double rows_per_second = 0;              // walked rows/s over this run
  // Estimated time to the high-water mark; InfiniteDuration when unknown.
  absl::Duration eta = absl::InfiniteDuration();
};

// How a run ended without an error.
enum class RunOutcome {
  kDone,      // the walk reached the high-water mark (or had nothing to do)
  kStopped,   // cancelled through the CancellationToken
  kPaused,    // an operator set the pause flag (`backfill pause`)
  kSliceEnd,  // RunOptions::max_duration or max_chunks was reached
  kCritical,  // a --critical-* threshold was crossed (RunOptions::throttle)
};

absl::string_view RunOutcomeName(RunOutcome outcome);

struct RunReport {
  RunOutcome outcome = RunOutcome::kDone;
  std::string reason;        // human words for the outcome
  bool resumed = false;      // continued an existing checkpoint
  int64_t rows_walked = 0;   // in this run
  int64_t rows_written = 0;  // in this run
  int64_t chunks = 0;        // in this run
  int64_t retries = 0;       // chunk attempts retried in this run
  // Time spent waiting on RunOptions::throttle before chunks (signals over
  // their thresholds, unreadable signals, the rows/s cap).
  absl::Duration throttled = absl::ZeroDuration();
  absl::Duration elapsed;
  Checkpoint checkpoint;  // the checkpoint as the run left it
  // The commit latency's quiet baseline as the run left it (measured at
  // start, maybe lowered since); zero when not watched. Set by
  // backfill::Run with PacingOptions, for the next slice's
  // CommitLatencyLimit::known_baseline.
  absl::Duration commit_latency_baseline = absl::ZeroDuration();
};

// Receives events from a run, on the run's thread. Every method has an empty
// default; implementations must not block for long.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnStart(const Checkpoint& checkpoint, const JobPlan& plan,
                       bool resumed) {}
  virtual void OnChunk(const Progress& progress) {}
  // A chunk failed with `error` and will be tried again after `backoff`.
  virtual void OnRetry(const absl::Status& error, int attempt,
                       absl::Duration backoff) {}
  virtual void OnFinish(const RunReport& report) {}
  // RunOptions::throttle holds writes (decision.action kWait) or its reason
  // changed; called again with a kProceed decision (empty reason) when
  // writes resume. Not called for routine waits on the rows/s cap.
  virtual void OnThrottle(const Decision& decision) {}
  // Something the operator must hear about although the run goes on, e.g.
  // writes proceeding while a replica is unreachable
  // (ThrottleOptions::ignore_unreadable_replicas): when that set of
  // replicas changes, and every 30s while it is not empty.
  virtual void OnWarning(const std::string& message) {}
  // Something the operator should know before the first chunk, e.g. what
  // paces the run or that replication lag is not watched (backfill::Run
  // with PacingOptions). Not called by Job::Run itself.
  virtual void OnNote(const std::string& message) {}
};

struct RunOptions {
  // Chunk sizing: start size, target chunk time (0 = fixed size), bounds.
  ChunkSizerOptions chunking;
  // Discard the existing checkpoint and start over with a new high-water
  // mark. Needed when the spec changed since the checkpoint was written.
  bool restart = false;
  // Stop (outcome kSliceEnd, resumable) once this much time has passed; the
  // chunk in flight completes first, so a slice may overrun by one chunk.
  // A slice always runs at least one chunk, however long opening took,
  // unless the throttle held writes through it: a runner calling slices
  // back to back always makes progress.
  absl::Duration max_duration = absl::InfiniteDuration();
  // Stop (kSliceEnd) after this many chunks; 0 = no limit.
  int64_t max_chunks = 0;
  // Attempts per chunk on deadlock or lock timeout (kAborted) before the run
  // fails. Each retry halves the chunk.
  int max_attempts = 10;
  // How long to keep reconnecting after the connection is lost
  // (kUnavailable) before the run fails. Backoff is capped exponential.
  absl::Duration retry_for = absl::Minutes(5);
  // Lock wait of each chunk's transaction (ChunkRequest::lock_timeout):
  // a chunk that waits longer for a lock rolls back and is retried, halved.
  // Default 2s. Zero: the adapter's session default.
  absl::Duration lock_timeout = absl::Seconds(2);
  // Optional; not owned; must outlive Run.
  const CancellationToken* cancel = nullptr;
  // Pacing: before each chunk the copier waits until the controller allows
  // the chunk's rows (ThrottleController::WaitUntilAllowed) and afterwards
  // records the rows it walked. While it waits, the run still stops on
  // cancellation, the slice limits and the operator's pause flag (read from
  // the checkpoint about once a second). A critical decision stops the run:
  // checkpoint state "stopped" with the reason as its message, outcome
  // kCritical. The controller must use the same clock as the run, and
  // something (a Pacer) must feed it signals; without signals it only
  // applies its rows/s cap. nullptr (default): no pacing.
  ThrottleController* throttle = nullptr;
  Observer* observer = nullptr;
  Clock* clock = nullptr;  // default: Clock::Real()
};

// kFailedPrecondition: job `job` has a checkpoint written by another spec
// (`spec`, its description) and the run was not asked to restart.
absl::Status SpecChangedError(absl::string_view job, absl::string_view spec);

// A backfill job bound to one database connection.
//
// Typical use:
//   absl::StatusOr<std::unique_ptr<Job>> job = Job::Open(std::move(db), spec);
//   if (!job.ok()) ... bad input, nothing was written
//   absl::StatusOr<RunReport> report = (*job)->Run(options);
//
// Not thread-safe; call from one thread (cancel from anywhere via the token).
class Job {
 public:
  // Validates `spec` (ValidateJobSpec), prepares it on `db` (schema checks,
  // statement type-checking) and reads any existing checkpoint. Writes
  // nothing. Fails with:
  //   kInvalidArgument, kNotFound, kFailedPrecondition, kPermissionDenied:
  //     the spec does not fit the database;
  //   kFailedPrecondition: a checkpoint of the same job name was written by a
  //     different spec, and `restart` is false (docs/DESIGN.md invariant 5).
  static absl::StatusOr<std::unique_ptr<Job>> Open(std::unique_ptr<Database> db,
                                                   JobSpec spec, bool restart);

  const JobSpec& spec() const { return spec_; }
  const JobPlan& plan() const { return plan_; }
  // The checkpoint found at Open, if any.
  const std::optional<Checkpoint>& existing_checkpoint() const {
    return existing_;
  }

  // Runs chunks until the walk is done, the token is cancelled, the operator
  // pauses the job, or a slice limit is reached; each of those returns a
  // report and leaves a committed checkpoint to resume from. A finished job
  // returns kDone at once without writing (unless options.restart). Returns
  // an error for failures retrying could not fix; the checkpoint then holds
  // the last committed chunk and state "failed".
  absl::StatusOr<RunReport> Run(const RunOptions& options);

 private:
  Job(std::unique_ptr<Database> db, JobSpec spec, JobPlan plan,
      std::optional<Checkpoint> existing);

  std::unique_ptr<Database> db_;
  const JobSpec spec_;
  const JobPlan plan_;
  std::optional<Checkpoint> existing_;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_JOB_H_
