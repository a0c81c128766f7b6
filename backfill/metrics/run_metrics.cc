#include "backfill/metrics/run_metrics.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/retry.h"
#include "backfill/throttle/controller.h"
#include "backfill/throttle/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace backfill {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Seconds, as chunk times go: 5ms (a tiny chunk) to a minute (far past any
// sensible --target-chunk-time).
const prometheus::Histogram::BucketBoundaries& ChunkBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

// Counter `c` raised to `total` (counters only go up).
void RaiseTo(prometheus::Counter& c, double total) {
  const double delta = total - c.Value();
  if (delta > 0) c.Increment(delta);
}

// A signal's reading in seconds, NaN when unreadable or not a time.
double Seconds(const SignalStatus& s) {
  if (!s.reading.has_value() || !s.reading->ok || s.reading->unit != "s" ||
      std::isinf(s.utilisation)) {
    return kNaN;
  }
  return s.reading->value;
}

// A signal's plain value, NaN when unreadable.
double Value(const SignalStatus& s) {
  if (!s.reading.has_value() || !s.reading->ok || std::isinf(s.utilisation)) {
    return kNaN;
  }
  return s.reading->value;
}

}  // namespace

struct RunMetrics::Impl : public prometheus::Collectable {
  explicit Impl(const std::string& job)
      : registry(std::make_shared<prometheus::Registry>()),
        labels{{"job", job}},
        rows(
            prometheus::BuildCounter()
                .Name("backfill_rows_total")
                .Help("Rows of the walked table covered (kind=walked) and rows "
                      "changed (kind=written, a subset) by this run")
                .Labels(labels)
                .Register(*registry)),
        chunks(prometheus::BuildCounter()
                   .Name("backfill_chunks_total")
                   .Help("Chunk attempts by outcome: committed, rolled_back "
                         "(lock conflict, retried), connection_lost (retried)")
                   .Labels(labels)
                   .Register(*registry)),
        duration(prometheus::BuildHistogram()
                     .Name("backfill_chunk_duration_seconds")
                     .Help("Wall time of each committed chunk, data and "
                           "checkpoint in one transaction")
                     .Labels(labels)
                     .Register(*registry)
                     .Add({}, ChunkBuckets())),
        chunk_rows(
            prometheus::BuildGauge()
                .Name("backfill_chunk_rows")
                .Help("Rows the next chunk covers (the adaptive chunk size)")
                .Labels(labels)
                .Register(*registry)
                .Add({})),
        progress(prometheus::BuildGauge()
                     .Name("backfill_progress_ratio")
                     .Help("Fraction of the job's key range done, 0 to 1")
                     .Labels(labels)
                     .Register(*registry)
                     .Add({})),
        eta(prometheus::BuildGauge()
                .Name("backfill_eta_seconds")
                .Help("Estimated seconds until done at this run's rate; NaN "
                      "until known, 0 when done")
                .Labels(labels)
                .Register(*registry)
                .Add({}, kNaN)),
        throttled(prometheus::BuildGauge()
                      .Name("backfill_throttled")
                      .Help("1 while writes are held by the throttle, else 0")
                      .Labels(labels)
                      .Register(*registry)
                      .Add({})),
        throttle_seconds(prometheus::BuildCounter()
                             .Name("backfill_throttle_seconds_total")
                             .Help("Seconds writes were held, by reason")
                             .Labels(labels)
                             .Register(*registry)),
        lag(prometheus::BuildGauge()
                .Name("backfill_replication_lag_seconds")
                .Help("Last replication lag reading per replica; NaN when "
                      "unreadable")
                .Labels(labels)
                .Register(*registry)),
        probe(prometheus::BuildGauge()
                  .Name("backfill_probe_latency_seconds")
                  .Help("p95 of the latency probe query on the primary")
                  .Labels(labels)
                  .Register(*registry)),
        commit_latency(
            prometheus::BuildGauge()
                .Name("backfill_commit_latency_seconds")
                .Help("p95 of the heartbeat's one-row write and commit on the "
                      "primary (what the application's commits wait on); NaN "
                      "when unreadable")
                .Labels(labels)
                .Register(*registry)),
        commit_baseline(
            prometheus::BuildGauge()
                .Name("backfill_commit_latency_baseline_seconds")
                .Help("Quiet p95 of the same write and commit, measured "
                      "before the first chunk and lowered when the run "
                      "reads below it")
                .Labels(labels)
                .Register(*registry)),
        pace(prometheus::BuildGauge()
                 .Name("backfill_pace_rows_per_second")
                 .Help("The proportional pace in force, rows/s; 0 while "
                       "unlimited")
                 .Labels(labels)
                 .Register(*registry)),
        load(prometheus::BuildGauge()
                 .Name("backfill_load")
                 .Help("Last reading of each --max-load / --critical-load "
                       "variable; NaN when unreadable")
                 .Labels(labels)
                 .Register(*registry)),
        retries(prometheus::BuildCounter()
                    .Name("backfill_retries_total")
                    .Help("Chunk attempts retried, by reason: lock_conflict, "
                          "connection_lost")
                    .Labels(labels)
                    .Register(*registry)),
        rows_walked(rows.Add({{"kind", "walked"}})),
        rows_written(rows.Add({{"kind", "written"}})),
        chunks_committed(chunks.Add({{"outcome", "committed"}})) {
    // Known label values start at 0, so that rate() and alerts see them
    // before the first event.
    chunks.Add({{"outcome", "rolled_back"}});
    chunks.Add({{"outcome", "connection_lost"}});
    retries.Add({{"reason", "lock_conflict"}});
    retries.Add({{"reason", "connection_lost"}});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    RefreshThrottle();
    return registry->Collect();
  }

  // Copies the controller's state into the throttle series.
  void RefreshThrottle() const {
    MutexLock lock(&mu);
    if (throttle == nullptr) return;
    const ThrottleState state = throttle->State();
    throttled.Set(state.throttled ? 1 : 0);
    if (state.paced) pace.Add({}).Set(state.pace_rows_per_second);
    for (const auto& [label, time] : throttle->ThrottleTime()) {
      RaiseTo(throttle_seconds.Add({{"reason", label}}),
              absl::ToDoubleSeconds(time));
    }
    for (const SignalStatus& s : throttle->Signals()) {
      throttle_seconds.Add({{"reason", s.name}});  // 0 until it holds writes
      switch (s.kind) {
        case SignalKind::kReplicaLag:
          lag.Add({{"replica", s.subject}}).Set(Seconds(s));
          break;
        case SignalKind::kStandbyLag:
          lag.Add({{"replica", "pg_stat_replication"}}).Set(Seconds(s));
          break;
        case SignalKind::kProbeLatency:
          probe.Add({}).Set(Seconds(s));
          break;
        case SignalKind::kCommitLatency:
          commit_latency.Add({}).Set(Seconds(s));
          // The baseline may be lowered during the run: its reading's floor.
          if (s.reading.has_value() && s.reading->floor > 0) {
            commit_baseline.Add({}).Set(s.reading->floor);
          }
          break;
        case SignalKind::kLoad:
          load.Add({{"variable", s.subject}}).Set(Value(s));
          break;
        default:
          break;
      }
    }
  }

  // Counts the chunks and rows the checkpoint gained since the last event.
  void Advance(const Checkpoint& cp) {
    MutexLock lock(&mu);
    if (cp.rows_walked > last_walked)
      rows_walked.Increment(cp.rows_walked - last_walked);
    if (cp.rows_written > last_written) {
      rows_written.Increment(cp.rows_written - last_written);
    }
    if (cp.chunks > last_chunks)
      chunks_committed.Increment(cp.chunks - last_chunks);
    last_walked = cp.rows_walked;
    last_written = cp.rows_written;
    last_chunks = cp.chunks;
    progress.Set(cp.progress());
  }

  const std::shared_ptr<prometheus::Registry> registry;
  const prometheus::Labels labels;
  prometheus::Family<prometheus::Counter>& rows;
  prometheus::Family<prometheus::Counter>& chunks;
  prometheus::Histogram& duration;
  prometheus::Gauge& chunk_rows;
  prometheus::Gauge& progress;
  prometheus::Gauge& eta;
  prometheus::Gauge& throttled;
  prometheus::Family<prometheus::Counter>& throttle_seconds;
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Family<prometheus::Gauge>& probe;
  prometheus::Family<prometheus::Gauge>& commit_latency;
  prometheus::Family<prometheus::Gauge>& commit_baseline;
  prometheus::Family<prometheus::Gauge>& pace;
  prometheus::Family<prometheus::Gauge>& load;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Counter& rows_walked;
  prometheus::Counter& rows_written;
  prometheus::Counter& chunks_committed;

  mutable Mutex mu;
  ThrottleController* throttle ABSL_GUARDED_BY(mu) = nullptr;
  // The checkpoint's counters at the last event.
  int64_t last_walked ABSL_GUARDED_BY(mu) = 0;
  int64_t last_written ABSL_GUARDED_BY(mu) = 0;
  int64_t last_chunks ABSL_GUARDED_BY(mu) = 0;
};

RunMetrics::RunMetrics(std::string job) : impl_(std::make_shared<Impl>(job)) {}

RunMetrics::~RunMetrics() = default;

void RunMetrics::SetThrottle(ThrottleController* throttle) {
  MutexLock lock(&impl_->mu);
  impl_->throttle = throttle;
}

void RunMetrics::SetCommitLatencyBaseline(absl::Duration baseline) {
  impl_->commit_baseline.Add({}).Set(absl::ToDoubleSeconds(baseline));
}

void RunMetrics::OnStart(const Checkpoint& checkpoint, const JobPlan& plan,
                         bool resumed) {
  {
    // Counters start at 0 for this run, whatever the checkpoint holds.
    MutexLock lock(&impl_->mu);
    impl_->last_walked = checkpoint.rows_walked;
    impl_->last_written = checkpoint.rows_written;
    impl_->last_chunks = checkpoint.chunks;
  }
  impl_->progress.Set(checkpoint.progress());
}

void RunMetrics::OnChunk(const Progress& p) {
  impl_->Advance(*p.checkpoint);
  impl_->duration.Observe(absl::ToDoubleSeconds(p.last_chunk_time));
  impl_->chunk_rows.Set(static_cast<double>(p.next_chunk_rows));
  impl_->eta.Set(
      p.eta == absl::InfiniteDuration() ? kNaN : absl::ToDoubleSeconds(p.eta));
}

void RunMetrics::OnRetry(const absl::Status& error, int attempt,
                         absl::Duration backoff) {
  const std::string reason(RetryReason(error));
  impl_->retries.Add({{"reason", reason}}).Increment();
  const char* outcome = absl::IsAborted(error)       ? "rolled_back"
                        : absl::IsUnavailable(error) ? "connection_lost"
                                                     : "other";
  impl_->chunks.Add({{"outcome", outcome}}).Increment();
}

void RunMetrics::OnFinish(const RunReport& report) {
  impl_->Advance(report.checkpoint);
  if (report.outcome == RunOutcome::kDone) impl_->eta.Set(0);
}

void RunMetrics::OnThrottle(const Decision& decision) {
  impl_->throttled.Set(decision.proceed() ? 0 : 1);
}

std::shared_ptr<prometheus::Collectable> RunMetrics::collectable() const {
  return impl_;
}

std::string RunMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(impl_->Collect());
}

}  // namespace backfill
