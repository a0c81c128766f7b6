#ifndef BACKFILL_ENGINE_PACER_H_
#define BACKFILL_ENGINE_PACER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backfill/engine/commit_latency.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/controller.h"
#include "backfill/throttle/mutex.h"
#include "backfill/throttle/signal.h"

namespace backfill {

// Writes the replication heartbeat: one row per job in `backfill_heartbeat`
// on the primary, stamped with the primary's own clock, which each replica's
// lag signal compares with its clock once the row has replicated.
//
// Thread-safety: Beat() is only called from the pacer's heartbeat thread.
class Heartbeat {
 public:
  virtual ~Heartbeat() = default;
  // Upserts the job's row with the primary's current time. Should bound
  // itself with a statement timeout well below a second. An error (the
  // primary is unreachable, the statement timed out) is reported as the
  // "heartbeat" signal being unreadable, which holds writes; the next Beat
  // reconnects. Never throws.
  virtual absl::Status Beat() = 0;
};

// Settings of a Pacer.
struct PacerOptions {
  // Times each beat (the heartbeat signal's value). Not owned; default
  // (nullptr): Clock::Real(). Use the controller's clock.
  Clock* clock = nullptr;
  // Time between two beats of the heartbeat. Default 100ms: replica lag is
  // then measured to about a tenth of a second.
  absl::Duration heartbeat_interval = absl::Milliseconds(100);
  // A beat slower than this makes the "heartbeat" signal read over its
  // threshold: the primary is struggling to commit one row. Default 1s.
  // Not used when commit_latency is enabled: its limit is then the one.
  absl::Duration heartbeat_threshold = absl::Seconds(1);
  // --max-commit-latency. When enabled, the beats are timed into the signal
  // CommitLatency::kName instead of kHeartbeatSignal, and Start measures the
  // quiet baseline first. Needs a heartbeat (SetHeartbeat).
  CommitLatencyLimit commit_latency;
};

// Feeds a ThrottleController from the outside world, off the copier's
// thread: one thread per Signal, each reading its signal every `interval`
// on the signal's own connection and passing the reading to the controller,
// plus one thread writing the Heartbeat. A slow or hung signal therefore
// delays only its own readings (which go stale and hold writes, fail
// closed), never the copier nor the other signals.
//
// The intervals between readings are real time (a thread must really wait,
// and Stop must interrupt the wait), measured from the end of one reading to
// the start of the next; the readings are stamped by the controller's clock.
//
// Typical use (the CLI):
//   ThrottleController controller(throttle_options);
//   Pacer pacer(&controller);
//   pacer.SetHeartbeat(std::move(heartbeat));
//   pacer.AddSignal(std::move(replica_lag));
//   pacer.Start();
//   job->Run(options);   // options.throttle = &controller
//   pacer.Stop();        // or let the destructor do it
//
// Thread-safety: AddSignal, SetHeartbeat and Start must be called from one
// thread before the run; Stop and the destructor may be called from any one
// thread. PollOnce must not run concurrently with Start..Stop.
class Pacer {
 public:
  // `controller` is not owned and must outlive the Pacer.
  explicit Pacer(ThrottleController* controller,
                 const PacerOptions& options = {});
  ~Pacer();  // Stop()

  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // Adds a signal, read every `interval` once started. Before Start.
  void AddSignal(std::unique_ptr<Signal> signal,
                 absl::Duration interval = absl::Milliseconds(100));

  // Sets the heartbeat writer, beaten every options.heartbeat_interval and
  // reported as the signal kHeartbeatSignal. Before Start.
  void SetHeartbeat(std::unique_ptr<Heartbeat> heartbeat);

  // Registers every signal with the controller (so each counts as "no
  // reading yet" until its first reading: writes start only once all have
  // reported) and starts the threads. With commit_latency enabled, first
  // measures the quiet baseline (beats for options.commit_latency's
  // baseline_time: a couple of seconds); if that fails, the signal reads
  // unreadable and holds writes. Beats once before the signal threads
  // start, so replicas have a row to read as early as possible, then waits
  // (real time) until every signal has taken its first reading and the
  // controller lets writes proceed, or `first_reading_wait` has passed: a
  // run should not open with a throttle event for signals that simply have
  // not been read yet, or a heartbeat row that has not replicated yet.
  // Idempotent.
  void Start(absl::Duration first_reading_wait = absl::Seconds(3));

  // Asks every thread to finish and joins them. A thread in the middle of a
  // reading finishes that reading first (signals bound their own I/O with
  // timeouts). Idempotent; safe without Start.
  void Stop();

  // Without threads: beats once, then reads each signal once and updates
  // the controller. For tests and for a single synchronous round.
  void PollOnce();

  // Name of the signal that reports the heartbeat writer's health.
  static constexpr char kHeartbeatSignal[] = "heartbeat";

  size_t signal_count() const { return signals_.size(); }

  // The commit-latency state (baseline and limit), nullptr unless
  // options.commit_latency is enabled and there is a heartbeat. Its
  // baseline and limit are set by Start (or known from the options) and may
  // only be lowered after it (CommitLatency::Record); CommitLatency is
  // thread-safe, so they may be read from any thread.
  const CommitLatency* commit_latency() const { return commit_latency_.get(); }

 private:
  struct Polled {
    std::unique_ptr<Signal> signal;
    absl::Duration interval;
  };

  // One beat: timed into the commit latency (or the heartbeat signal), and
  // the controller's hold set or cleared as a quiet recheck begins or ends.
  void Beat();
  void MeasureBaseline();
  // Sleeps up to `d`, returning early (true) once Stop has been called.
  bool WaitOrStop(absl::Duration d);
  void SignalLoop(Signal* signal, absl::Duration interval);
  void HeartbeatLoop();

  ThrottleController* const controller_;
  const PacerOptions options_;
  Clock* const clock_;
  std::vector<Polled> signals_;
  std::unique_ptr<Heartbeat> heartbeat_;
  std::unique_ptr<CommitLatency> commit_latency_;
  // The controller's hold for a quiet recheck is set. Only the heartbeat's
  // thread (or PollOnce) touches it.
  bool holding_ = false;
  std::vector<std::thread> threads_;
  bool started_ = false;

  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t first_readings_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_PACER_H_
