#ifndef BACKFILL_THROTTLE_LATENCY_WINDOW_H_
#define BACKFILL_THROTTLE_LATENCY_WINDOW_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/time/time.h"

namespace backfill {

// Recent latency samples (e.g. of the --probe-query) and their percentiles
// over a sliding time window, so the probe-latency signal reports "p95 of the
// last few seconds" rather than one noisy sample.
//
// Pure: the caller passes the times (from its Clock). Not thread-safe; owned
// by the one signal that feeds and reads it.
class LatencyWindow {
 public:
  // Keeps samples taken within `window` of the newest query time; at most
  // `max_samples` (the oldest go first), which bounds memory however fast
  // samples arrive. Defaults: 5s, 10000 samples.
  explicit LatencyWindow(absl::Duration window = absl::Seconds(5),
                         size_t max_samples = 10000);

  // Records a sample measured at `at`. Samples should come in time order; one
  // that is older than the newest by more than the window is dropped.
  void Add(absl::Time at, absl::Duration latency);

  // The q-quantile (q in [0, 1], e.g. 0.95) of the samples taken in
  // (now - window, now], by the nearest-rank method: the smallest sample with
  // at least q of the samples at or below it. nullopt when there are none,
  // so the caller can report an unreadable signal rather than a zero.
  std::optional<absl::Duration> Percentile(double q, absl::Time now) const;

  // Percentile(0.95, now).
  std::optional<absl::Duration> P95(absl::Time now) const {
    return Percentile(0.95, now);
  }

  // Samples within the window ending at `now`.
  size_t Count(absl::Time now) const;

 private:
  void Prune(absl::Time now);

  const absl::Duration window_;
  const size_t max_samples_;
  std::deque<std::pair<absl::Time, absl::Duration>> samples_;  // time order
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_LATENCY_WINDOW_H_
