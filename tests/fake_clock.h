#ifndef BACKFILL_TESTS_FAKE_CLOCK_H_
#define BACKFILL_TESTS_FAKE_CLOCK_H_

#include <mutex>

#include "absl/time/time.h"
#include "backfill/throttle/clock.h"

namespace backfill {

// A Clock for tests: Now() returns a settable time and SleepFor advances it
// instead of sleeping. Thread-safe, as the Clock contract requires.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}

  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }

  void SleepFor(absl::Duration d) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (d > absl::ZeroDuration()) {
      now_ += d;
      slept_ += d;
    }
    ++sleeps_;
  }

  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

  void Set(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

  // Total time passed to SleepFor, and how many times it was called.
  absl::Duration slept() {
    std::lock_guard<std::mutex> lock(mu_);
    return slept_;
  }
  int sleeps() {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  std::mutex mu_;
  absl::Time now_;
  absl::Duration slept_ = absl::ZeroDuration();
  int sleeps_ = 0;
};

}  // namespace backfill

#endif  // BACKFILL_TESTS_FAKE_CLOCK_H_
