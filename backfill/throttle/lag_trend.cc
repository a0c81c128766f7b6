#include "backfill/throttle/lag_trend.h"

#include <algorithm>
#include <cmath>

namespace backfill {

double LagTrend::Forecast(absl::Time at, double lag_seconds) {
  samples_.emplace_back(at, lag_seconds);
  while (!samples_.empty() && samples_.front().first < at - options_.window) {
    samples_.pop_front();
  }
  if (samples_.size() < 4 ||
      samples_.back().first - samples_.front().first < options_.window / 2) {
    return lag_seconds;
  }
  // Least-squares slope of lag over time, times relative to the newest.
  double n = 0, sum_t = 0, sum_l = 0, sum_tt = 0, sum_tl = 0;
  for (const auto& [t, l] : samples_) {
    const double x = absl::ToDoubleSeconds(t - at);
    n += 1;
    sum_t += x;
    sum_l += l;
    sum_tt += x * x;
    sum_tl += x * l;
  }
  const double denominator = n * sum_tt - sum_t * sum_t;
  if (!(denominator > 0)) return lag_seconds;
  const double slope = (n * sum_tl - sum_t * sum_l) / denominator;
  if (!(slope > 0) || !(lag_seconds > 0)) return lag_seconds;
  const double horizon = absl::ToDoubleSeconds(options_.horizon);
  const double backlog = lag_seconds + slope * horizon;
  const double cap = options_.max_factor * lag_seconds;
  if (slope >= 1) return cap;
  return std::max(lag_seconds, std::min(cap, backlog / (1 - slope)));
}

Reading TrendingLagSignal::Read() {
  Reading r = lag_->Read();
  if (r.ok && std::isfinite(r.value)) {
    r.forecast = trend_.Forecast(clock_->Now(), r.value);
  }
  return r;
}

}  // namespace backfill
