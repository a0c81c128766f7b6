#include "backfill/throttle/lag_trend.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

absl::Time At(double seconds) { return kStart + absl::Seconds(seconds); }

LagTrend::Options NoHorizon() {
  LagTrend::Options o;
  o.horizon = absl::ZeroDuration();
  return o;
}

TEST(LagTrendTest, SteadyLagForecastsItself) {
  LagTrend trend(NoHorizon());
  double f = 0;
  for (int i = 0; i <= 20; ++i) f = trend.Forecast(At(i * 0.1), 0.3);
  EXPECT_DOUBLE_EQ(f, 0.3);
}

TEST(LagTrendTest, FallingLagForecastsItself) {
  LagTrend trend;
  double f = 0;
  for (int i = 0; i <= 20; ++i) f = trend.Forecast(At(i * 0.1), 1.0 - i * 0.04);
  EXPECT_DOUBLE_EQ(f, 1.0 - 20 * 0.04);
}

// A replica applying at 75% of the primary's pace falls behind 0.25s per
// second; at 0.6s of lag its backlog takes 0.6 / 0.75 = 0.8s to clear, and
// the lag peaks there.
TEST(LagTrendTest, RisingLagForecastsThePeakAfterAPause) {
  LagTrend trend(NoHorizon());
  double f = 0;
  for (int i = 0; i <= 10; ++i)
    f = trend.Forecast(At(i * 0.1), 0.35 + i * 0.025);
  EXPECT_NEAR(f, 0.6 / 0.75, 1e-9);
}

TEST(LagTrendTest, TheChunkInFlightAddsToTheBacklog) {
  LagTrend::Options o;
  o.horizon = absl::Milliseconds(500);
  LagTrend trend(o);
  double f = 0;
  for (int i = 0; i <= 10; ++i)
    f = trend.Forecast(At(i * 0.1), 0.35 + i * 0.025);
  EXPECT_NEAR(f, (0.6 + 0.25 * 0.5) / 0.75, 1e-9);
}

TEST(LagTrendTest, NeedsHalfAWindowOfSamplesToSeeATrend) {
  LagTrend trend(NoHorizon());
  EXPECT_DOUBLE_EQ(trend.Forecast(At(0), 0.1), 0.1);
  EXPECT_DOUBLE_EQ(trend.Forecast(At(0.1), 0.3), 0.3);
  EXPECT_DOUBLE_EQ(trend.Forecast(At(0.2), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(trend.Forecast(At(0.3), 0.7), 0.7);  // 4 samples, 0.3s
  EXPECT_GT(trend.Forecast(At(0.5), 0.9), 0.9);
}

TEST(LagTrendTest, ForgetsSamplesOlderThanTheWindow) {
  LagTrend trend(NoHorizon());
  for (int i = 0; i <= 10; ++i) trend.Forecast(At(i * 0.1), i * 0.1);  // rising
  double f = 0;
  for (int i = 0; i <= 10; ++i)
    f = trend.Forecast(At(5 + i * 0.1), 0.4);  // flat
  EXPECT_DOUBLE_EQ(f, 0.4);
}

// A stalled replica (lag rising one second per second) or a noisy estimate
// near it is capped rather than infinite, also with a long horizon.
TEST(LagTrendTest, ForecastIsCappedAtMaxFactorTimesTheLag) {
  LagTrend::Options o;
  o.horizon = absl::Seconds(5);
  LagTrend trend(o);
  double f = 0;
  for (int i = 0; i <= 10; ++i) f = trend.Forecast(At(i * 0.1), 0.2 + i * 0.1);
  EXPECT_DOUBLE_EQ(f, 3 * 1.2);
}

class FixedLag : public Signal {
 public:
  explicit FixedLag(double* lag) : lag_(lag) {}
  const std::string& name() const override { return name_; }
  Reading Read() override {
    if (*lag_ < 0) return Reading::Unreadable("connection refused");
    return Reading::Ok(*lag_, 1.0, "s");
  }

 private:
  double* lag_;
  std::string name_ = "replication_lag replica=r1";
};

TEST(TrendingLagSignalTest, ReadingsCarryTheForecastUnderTheSameName) {
  FakeClock clock(kStart);
  double lag = 0.35;
  TrendingLagSignal signal(std::make_unique<FixedLag>(&lag), &clock,
                           NoHorizon());
  EXPECT_EQ(signal.name(), "replication_lag replica=r1");
  Reading r;
  for (int i = 0; i <= 10; ++i) {
    lag = 0.35 + i * 0.025;
    r = signal.Read();
    clock.Advance(absl::Milliseconds(100));
  }
  ASSERT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.value, 0.6);
  ASSERT_TRUE(r.forecast.has_value());
  EXPECT_NEAR(*r.forecast, 0.8, 1e-9);
  EXPECT_NEAR(r.Utilisation(), 0.8, 1e-9);
  EXPECT_EQ(r.Describe(signal.name()),
            "replication_lag replica=r1 600ms rising to 800ms < 1s");

  lag = -1;
  r = signal.Read();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.forecast.has_value());
}

TEST(ReadingTest, ForecastAboveTheThresholdPausesBeforeTheValueDoes) {
  Reading r = Reading::Ok(0.7, 1.0, "s");
  r.forecast = 1.1;
  EXPECT_GE(r.Utilisation(), 1.0);
  EXPECT_FALSE(r.Critical());
  EXPECT_EQ(r.Describe("replication_lag replica=r1"),
            "replication_lag replica=r1 700ms rising to 1.1s > 1s");
  r.forecast = 0.5;  // below the value: the value counts
  EXPECT_DOUBLE_EQ(r.Utilisation(), 0.7);
  EXPECT_EQ(r.Describe("x"), "x 700ms < 1s");
}

}  // namespace
}  // namespace backfill
