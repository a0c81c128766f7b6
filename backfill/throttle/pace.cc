#include "backfill/throttle/pace.h"

#include <algorithm>
#include <cmath>

namespace backfill {
namespace {

// The copier's rate is measured over this many periods: a 500ms chunk
// lands in one period or the next, so one period alone reads 0 or 2x.
constexpr int kAchievedPeriods = 3;

}  // namespace

Pace::Pace(const PaceOptions& options, absl::Time start)
    : options_(options),
      rate_(options.initial_rows_per_second > 0
                ? std::max(options.initial_rows_per_second,
                           options.min_rows_per_second)
                : 0),
      last_step_(start),
      first_at_(start) {}

bool Pace::Observe(absl::Time now, double utilisation) {
  if (now - last_step_ < options_.period) return false;
  last_step_ = now;
  if (now - last_decrease_ < options_.hold_after_decrease) return true;
  double factor = options_.max_decrease;  // unreadable: fail closed
  if (std::isfinite(utilisation)) {
    const double u = std::max(utilisation, 0.0);
    factor =
        std::clamp(std::exp(options_.gain * (options_.target_utilisation - u)),
                   options_.max_decrease, options_.max_increase);
  }
  // Unlimited stays so until a step down, and engages only from a rate the
  // copier was seen to achieve (before the first chunk there is none).
  if (rate_ == 0 && (factor >= 1 || rows_.empty())) return true;
  // Only speed up where the pace is what holds the copier back.
  if (factor > 1 && Achieved(now) < 0.5 * rate_) return true;
  if (factor < 1) last_decrease_ = now;
  const double from = rate_ > 0 ? rate_ : Achieved(now);
  rate_ = std::max(from * factor, options_.min_rows_per_second);
  return true;
}

void Pace::RecordRows(absl::Time at, int64_t rows) {
  if (rows <= 0) return;
  rows_.emplace_back(at, rows);
  const absl::Time oldest = at - kAchievedPeriods * options_.period;
  while (rows_.front().first <= oldest) rows_.pop_front();
}

double Pace::Achieved(absl::Time now) const {
  const absl::Duration span = kAchievedPeriods * options_.period;
  const absl::Time from = std::max(now - span, first_at_);
  int64_t rows = 0;
  for (const auto& [at, n] : rows_) {
    if (at > from && at <= now) rows += n;
  }
  const double seconds = absl::ToDoubleSeconds(now - from);
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
}

}  // namespace backfill
