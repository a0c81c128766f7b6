#include "backfill/throttle/chunk_sizer.h"

#include <algorithm>
#include <cmath>

namespace backfill {

ChunkSizer::ChunkSizer(const ChunkSizerOptions& options)
    : options_(options), next_rows_(Clamp(options.initial_rows)) {}

int64_t ChunkSizer::Clamp(double rows) const {
  const double lo =
      static_cast<double>(std::max<int64_t>(1, options_.min_rows));
  const double hi =
      static_cast<double>(std::max(options_.max_rows, options_.min_rows));
  return static_cast<int64_t>(std::llround(std::clamp(rows, lo, hi)));
}

void ChunkSizer::Observe(int64_t rows, absl::Duration elapsed) {
  const double target = absl::ToDoubleSeconds(options_.target_chunk_time);
  if (target <= 0) {
    // Fixed size: a chunk that succeeded after a retry Shrink() returns the
    // size to initial_rows, instead of staying halved for the rest of the run.
    next_rows_ = Clamp(options_.initial_rows);
    return;
  }
  if (rows <= 0) return;  // nothing to learn
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-6);
  const double cost = seconds / static_cast<double>(rows);
  const int64_t current = next_rows_;

  if (seconds > options_.overshoot_factor * target) {
    // Far over target: trust this chunk alone and cut hard.
    seconds_per_row_ = cost;
    next_rows_ = Clamp(std::min(target / cost, static_cast<double>(current)));
    return;
  }
  seconds_per_row_ = seconds_per_row_ == 0
                         ? cost
                         : options_.ema_weight * cost +
                               (1 - options_.ema_weight) * seconds_per_row_;
  const double ideal = target / seconds_per_row_;
  next_rows_ = Clamp(std::min(ideal, current * options_.max_growth));
}

void ChunkSizer::Shrink() { next_rows_ = Clamp(next_rows_ / 2.0); }

}  // namespace backfill
