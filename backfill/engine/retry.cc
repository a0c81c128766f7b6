#include "backfill/engine/retry.h"

#include <algorithm>

namespace backfill {

absl::Duration Backoff::Next() {
  absl::Duration full = base_;
  for (int i = 0; i < attempt_ && full < cap_; ++i) full *= 2;
  full = std::min(full, cap_);
  ++attempt_;
  // A cheap hash of the clock's nanoseconds picks the jitter.
  uint64_t x = static_cast<uint64_t>(absl::ToUnixNanos(clock_->Now()));
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  const double fraction = 0.5 + 0.5 * static_cast<double>(x % 1024) / 1023.0;
  return full * fraction;
}

absl::string_view RetryReason(const absl::Status& error) {
  if (absl::IsAborted(error)) return "lock_conflict";
  if (absl::IsUnavailable(error)) return "connection_lost";
  return "other";
}

}  // namespace backfill
