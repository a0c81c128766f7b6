#ifndef BACKFILL_THROTTLE_CLOCK_H_
#define BACKFILL_THROTTLE_CLOCK_H_

#include "absl/time/time.h"

namespace backfill {

// The source of time for everything that paces or measures: the copier loop,
// the throttle controller and progress reporting. Injected so that tests of
// pacing logic run in microseconds and never sleep.
//
// Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  // Current time. Monotonic for the real clock.
  virtual absl::Time Now() = 0;

  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(absl::Duration d) = 0;

  // The process-wide real clock. Never null; not owned by the caller.
  static Clock* Real();
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_CLOCK_H_
