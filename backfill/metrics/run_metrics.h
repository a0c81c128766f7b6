#ifndef BACKFILL_METRICS_RUN_METRICS_H_
#define BACKFILL_METRICS_RUN_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backfill/engine/job.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace backfill {

class ThrottleController;

// The Prometheus series of one backfill run (docs/DESIGN.md "Metrics"), fed as
// an Observer of the run and, at each scrape, from the throttle controller.
// Every series carries the label job="<job name>". Counters count this
// process's run only (they start at 0, as Prometheus expects of a restarted
// target); backfill_progress_ratio carries the whole job's progress.
//
//   backfill_rows_total{kind}              counter  walked-table rows covered
//                                                   (kind="walked") and rows
//                                                   actually changed
//                                                   (kind="written", a subset)
//   backfill_chunks_total{outcome}         counter  chunk attempts:
//   "committed",
//                                                   "rolled_back" (lock
//                                                   conflict),
//                                                   "connection_lost"
//   backfill_chunk_duration_seconds        histogram wall time of committed
//                                                   chunks
//   backfill_chunk_rows                    gauge    rows the next chunk covers
//                                                   (the adaptive size)
//   backfill_progress_ratio                gauge    fraction of the key range
//                                                   done, 0..1
//   backfill_eta_seconds                   gauge    estimated seconds left; NaN
//                                                   until known, 0 when done
//   backfill_throttled                     gauge    1 while writes are held
//   backfill_throttle_seconds_total{reason} counter time held, per reason
//                                                   (Decision::label)
//   backfill_replication_lag_seconds{replica} gauge last lag reading per
//                                                   replica; NaN if unreadable
//   backfill_probe_latency_seconds         gauge    p95 of the latency probe
//   backfill_commit_latency_seconds        gauge    p95 of the heartbeat's
//                                                   write and commit
//   backfill_commit_latency_baseline_seconds gauge  its quiet p95, measured
//                                                   before the first chunk,
//                                                   lowered during the run
//   backfill_pace_rows_per_second          gauge    the proportional pace; 0
//                                                   while unlimited
//   backfill_load{variable}                gauge    each --max-load variable
//   backfill_retries_total{reason}         counter  retried chunk attempts, by
//                                                   RetryReason()
//
// The throttle series come from SetThrottle's controller, read at each
// scrape (so lag and probe readings stay current while writes are held and
// no chunk events arrive); OnThrottle also sets backfill_throttled. Without a
// controller, backfill_throttled stays 0 and the labelled throttle series
// are absent. Label values known in advance (chunk outcomes, retry reasons,
// each registered signal's throttle reason) are exposed at 0 from the start.
//
// Thread-safety: the Observer methods run on the run's thread while scrapes
// (Render, MetricsServer) run on others; every method is thread-safe.
class RunMetrics : public Observer {
 public:
  explicit RunMetrics(std::string job);
  ~RunMetrics() override;

  RunMetrics(const RunMetrics&) = delete;
  RunMetrics& operator=(const RunMetrics&) = delete;

  // Reads throttle state, time throttled and signal readings from
  // `throttle` at each scrape. Not owned; it must outlive this object or be
  // replaced (nullptr detaches) before it is destroyed.
  void SetThrottle(ThrottleController* throttle);

  // Sets backfill_commit_latency_baseline_seconds (absent until set).
  void SetCommitLatencyBaseline(absl::Duration baseline);

  void OnStart(const Checkpoint& checkpoint, const JobPlan& plan,
               bool resumed) override;
  void OnChunk(const Progress& progress) override;
  void OnRetry(const absl::Status& error, int attempt,
               absl::Duration backoff) override;
  void OnFinish(const RunReport& report) override;
  // Sets backfill_throttled (the controller, when set, overrides it at each
  // scrape).
  void OnThrottle(const Decision& decision) override;

  // The current values in the Prometheus text format (version 0.0.4),
  // exactly what /metrics serves.
  std::string Render() const;

  // The series, for MetricsServer (or another prometheus-cpp Exposer of an
  // embedding program). Forward-declared so that prometheus-cpp headers stay
  // out of this header.
  std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace backfill

#endif  // BACKFILL_METRICS_RUN_METRICS_H_
