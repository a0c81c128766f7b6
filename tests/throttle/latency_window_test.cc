#include "backfill/throttle/latency_window.h"

#include <optional>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

absl::Time At(int ms) { return kT0 + absl::Milliseconds(ms); }

TEST(LatencyWindowTest, EmptyHasNoPercentile) {
  LatencyWindow w(absl::Seconds(5));
  EXPECT_EQ(w.P95(kT0), std::nullopt);
  EXPECT_EQ(w.Count(kT0), 0u);
}

TEST(LatencyWindowTest, P95IsNearestRank) {
  LatencyWindow w(absl::Seconds(5));
  // 1ms .. 20ms, shuffled order of values, in time order.
  const int values[] = {7,  3, 20, 1, 15, 9, 11, 2,  19, 4,
                        18, 6, 13, 5, 17, 8, 16, 10, 14, 12};
  int t = 0;
  for (int v : values) w.Add(At(t += 10), absl::Milliseconds(v));
  EXPECT_EQ(w.Count(At(t)), 20u);
  EXPECT_EQ(w.P95(At(t)), absl::Milliseconds(19));  // rank ceil(0.95*20)=19
  EXPECT_EQ(w.Percentile(0.5, At(t)), absl::Milliseconds(10));
  EXPECT_EQ(w.Percentile(1.0, At(t)), absl::Milliseconds(20));
  EXPECT_EQ(w.Percentile(0.0, At(t)), absl::Milliseconds(1));
}

TEST(LatencyWindowTest, HundredSamplesP95IsTheNinetyFifth) {
  LatencyWindow w(absl::Seconds(60));
  for (int i = 1; i <= 100; ++i) w.Add(At(i), absl::Milliseconds(i));
  EXPECT_EQ(w.P95(At(100)), absl::Milliseconds(95));
}

TEST(LatencyWindowTest, OldSamplesLeaveTheWindow) {
  LatencyWindow w(absl::Seconds(5));
  w.Add(At(0), absl::Milliseconds(500));  // a slow probe long ago
  for (int i = 1; i <= 9; ++i) w.Add(At(1000 + i * 100), absl::Milliseconds(5));
  EXPECT_EQ(w.P95(At(4000)), absl::Milliseconds(500));
  // At 5s the first sample is exactly one window old: out.
  EXPECT_EQ(w.P95(At(5000)), absl::Milliseconds(5));
  EXPECT_EQ(w.Count(At(5000)), 9u);
  // Long after the last sample, nothing is left to report.
  EXPECT_EQ(w.P95(At(60000)), std::nullopt);
}

TEST(LatencyWindowTest, QueryIgnoresSamplesAfterNow) {
  LatencyWindow w(absl::Seconds(5));
  w.Add(At(100), absl::Milliseconds(1));
  w.Add(At(200), absl::Milliseconds(90));
  EXPECT_EQ(w.P95(At(150)), absl::Milliseconds(1));
}

TEST(LatencyWindowTest, LateSampleIsKeptInOrder) {
  LatencyWindow w(absl::Seconds(5));
  w.Add(At(1000), absl::Milliseconds(1));
  w.Add(At(500), absl::Milliseconds(80));      // arrived late, still in window
  w.Add(At(-10000), absl::Milliseconds(999));  // too old: dropped
  EXPECT_EQ(w.Count(At(1000)), 2u);
  EXPECT_EQ(w.P95(At(1000)), absl::Milliseconds(80));
  EXPECT_EQ(w.P95(At(5600)), absl::Milliseconds(1));  // the 500ms one aged out
}

TEST(LatencyWindowTest, MaxSamplesBoundsMemory) {
  LatencyWindow w(absl::Seconds(5), /*max_samples=*/10);
  w.Add(At(0), absl::Milliseconds(900));
  for (int i = 1; i <= 10; ++i) w.Add(At(i), absl::Milliseconds(1));
  EXPECT_EQ(w.Count(At(10)), 10u);
  EXPECT_EQ(w.P95(At(10)), absl::Milliseconds(1));  // the oldest went first
}

}  // namespace
}  // namespace backfill
