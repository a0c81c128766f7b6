#include "backfill/engine/retry.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

TEST(BackoffTest, GrowsExponentiallyWithJitterAndCap) {
  FakeClock clock;
  Backoff backoff(&clock, absl::Milliseconds(100), absl::Seconds(1));
  absl::Duration full = absl::Milliseconds(100);
  for (int i = 0; i < 8; ++i) {
    clock.Advance(absl::Nanoseconds(12345 * (i + 1)));
    const absl::Duration wait = backoff.Next();
    EXPECT_GE(wait, full / 2) << "attempt " << i;
    EXPECT_LE(wait, full) << "attempt " << i;
    full = std::min(full * 2, absl::Seconds(1));
  }
}

TEST(BackoffTest, ResetStartsOver) {
  FakeClock clock;
  Backoff backoff(&clock, absl::Milliseconds(100), absl::Seconds(5));
  for (int i = 0; i < 5; ++i) backoff.Next();
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, DeterministicWithAFakeClock) {
  FakeClock a, b;
  Backoff x(&a), y(&b);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(x.Next(), y.Next());
}

}  // namespace
}  // namespace backfill
