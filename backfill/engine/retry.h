#ifndef BACKFILL_ENGINE_RETRY_H_
#define BACKFILL_ENGINE_RETRY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backfill/throttle/clock.h"

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

// Bounded-cardinality name of why a chunk is retried, shared by the JSON
// retry event's "reason" and the metrics label
// backfill_retries_total{reason}:
//   kAborted      "lock_conflict"    deadlock, serialization failure or lock
//                                    wait timeout; the chunk rolled back
//   kUnavailable  "connection_lost"  the chunk may or may not have committed;
//                                    the checkpoint row tells
//   anything else "other"
absl::string_view RetryReason(const absl::Status& error);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_RETRY_H_
