#include "backfill/throttle/latency_window.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace backfill {

LatencyWindow::LatencyWindow(absl::Duration window, size_t max_samples)
    : window_(window), max_samples_(std::max<size_t>(1, max_samples)) {}

void LatencyWindow::Add(absl::Time at, absl::Duration latency) {
  if (!samples_.empty() && at <= samples_.back().first - window_) return;
  // Keep time order even if a sample arrives slightly late.
  auto pos = samples_.end();
  while (pos != samples_.begin() && std::prev(pos)->first > at) --pos;
  samples_.insert(pos, {at, latency});
  Prune(samples_.back().first);
  while (samples_.size() > max_samples_) samples_.pop_front();
}

void LatencyWindow::Prune(absl::Time now) {
  while (!samples_.empty() && samples_.front().first <= now - window_) {
    samples_.pop_front();
  }
}

std::optional<absl::Duration> LatencyWindow::Percentile(double q,
                                                        absl::Time now) const {
  std::vector<absl::Duration> in_window;
  for (const auto& [at, latency] : samples_) {
    if (at > now - window_ && at <= now) in_window.push_back(latency);
  }
  if (in_window.empty()) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const size_t n = in_window.size();
  // Nearest rank; the epsilon keeps 0.95 * 100 from rounding up to rank 96.
  size_t rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(n) - 1e-9));
  rank = std::clamp<size_t>(rank, 1, n);
  std::nth_element(in_window.begin(), in_window.begin() + (rank - 1),
                   in_window.end());
  return in_window[rank - 1];
}

size_t LatencyWindow::Count(absl::Time now) const {
  return static_cast<size_t>(
      std::count_if(samples_.begin(), samples_.end(), [&](const auto& s) {
        return s.first > now - window_ && s.first <= now;
      }));
}

}  // namespace backfill
