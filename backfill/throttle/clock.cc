#include "backfill/throttle/clock.h"

#include <chrono>

#include "absl/time/clock.h"

namespace backfill {
namespace {

// Wall-clock origin plus a steady-clock offset: monotonic, yet printable as a
// calendar time.
class RealClock final : public Clock {
 public:
  RealClock()
      : origin_(absl::Now()),
        steady_origin_(std::chrono::steady_clock::now()) {}

  absl::Time Now() override {
    return origin_ +
           absl::FromChrono(std::chrono::steady_clock::now() - steady_origin_);
  }

  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }

 private:
  const absl::Time origin_;
  const std::chrono::steady_clock::time_point steady_origin_;
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace backfill
