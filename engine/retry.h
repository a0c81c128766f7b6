#ifndef BACKFILL_ENGINE_RETRY_H_
#define BACKFILL_ENGINE_RETRY_H_

#include <cstdint>

#include "absl/time/time.h"
#include "throttle/clock.h"

namespace backfill {

// Capped exponential backoff with full jitter: the n-th wait is uniform in
// [base * 2^n / 2, base * 2^n], capped at `cap`. Jitter is derived from the
// clock, so runs with a fake clock stay deterministic.
class Backoff {
 public:
  explicit Backoff(Clock* clock, absl::Duration base = absl::Milliseconds(100),
                   absl::Duration cap = absl::Seconds(5))
      : clock_(clock), base_(base), cap_(cap) {}

  // The wait before the next attempt.
  absl::Duration Next();
  void Reset() { attempt_ = 0; }

 private:
  Clock* clock_;
  const absl::Duration base_;
  const absl::Duration cap_;
  int attempt_ = 0;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_RETRY_H_
