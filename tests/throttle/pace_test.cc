// The proportional pace (backfill/throttle/pace.h) on a simulated server whose
// commit latency grows with the write rate, measured the way the engine
// measures it: a p95 over a window of beats, with noise. No sleeping: time
// is simulated.

#include "backfill/throttle/pace.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

// A primary whose commit latency is base * (1 + (rate / capacity)^2), times
// lognormal noise, beaten every 100ms; the signal is the p95 of the beats of
// the last `window`, against a limit of 2x the quiet p95 (the default) with
// that quiet p95 as its floor (as the engine's commit-latency signal reads it).
class SimulatedPrimary {
 public:
  SimulatedPrimary(double capacity, uint32_t seed) : capacity_(capacity) {
    rng_.seed(seed);
    floor_ = kBase * std::exp(1.645 * kNoise);
    limit_ = 2 * floor_;
  }

  void set_capacity(double c) { capacity_ = c; }
  // Where the pace should settle: at utilisation 0.8 (the pace's target)
  // the p95 is 1.8x the quiet p95, i.e. (rate / capacity)^2 = 0.8.
  double settle_rate() const { return capacity_ * std::sqrt(0.8); }

  // One beat at `at` while the copier writes at `rate` rows/s.
  void Beat(absl::Time at, double rate) {
    std::normal_distribution<double> noise(0, kNoise);
    const double x = rate / capacity_;
    beats_.emplace_back(at, kBase * (1 + x * x) * std::exp(noise(rng_)));
    while (beats_.front().first <= at - kWindow) beats_.pop_front();
  }

  double Utilisation() const {
    std::vector<double> v;
    for (const auto& b : beats_) v.push_back(b.second);
    std::sort(v.begin(), v.end());
    const size_t rank = static_cast<size_t>(std::ceil(0.95 * v.size()));
    const double p95 = v[std::clamp<size_t>(rank, 1, v.size()) - 1];
    return (p95 - floor_) / (limit_ - floor_);
  }

 private:
  static constexpr double kBase = 1.0;  // ms
  static constexpr double kNoise = 0.15;
  // As CommitLatencyLimit: the p95 of the beats of the last 10 s.
  static constexpr absl::Duration kWindow = absl::Seconds(10);
  double capacity_;
  double floor_;
  double limit_;
  std::mt19937 rng_;
  std::deque<std::pair<absl::Time, double>> beats_;
};

struct Trace {
  std::vector<double> rate;  // one entry per simulated second
  std::vector<double> utilisation;
};

// Runs `seconds` of simulated time: beats every 50ms (as
// CommitLatencyLimit::kBeatInterval), the copier writing at
// the pace (it could go faster: 500k rows/s), the pace observing at every
// beat, from `initial` rows/s (0: unlimited). `at_second(s)` may change the
// server at the start of second s.
template <typename F>
Trace Simulate(SimulatedPrimary& primary, int seconds, F at_second,
               double initial = 1000) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  PaceOptions options;
  options.initial_rows_per_second = initial;
  Pace pace(options, start);
  Trace trace;
  for (int s = 0; s < seconds; ++s) {
    at_second(s);
    for (int i = 0; i < 20; ++i) {
      const absl::Time now =
          start + absl::Seconds(s) + absl::Milliseconds(50 * i);
      const double rate = pace.rows_per_second() > 0
                              ? std::min(pace.rows_per_second(), 500000.0)
                              : 500000.0;
      primary.Beat(now, rate);
      pace.RecordRows(now, static_cast<int64_t>(rate / 20));
      pace.Observe(now, primary.Utilisation());
    }
    trace.rate.push_back(pace.rows_per_second() > 0 ? pace.rows_per_second()
                                                    : 500000.0);
    trace.utilisation.push_back(primary.Utilisation());
  }
  return trace;
}

double Mean(const std::vector<double>& v, int from, int to) {
  double sum = 0;
  for (int i = from; i < to; ++i) sum += v[i];
  return sum / (to - from);
}

double Spread(const std::vector<double>& v, int from, int to) {
  const auto [lo, hi] = std::minmax_element(v.begin() + from, v.begin() + to);
  return (*hi - *lo) / Mean(v, from, to);
}

TEST(PaceTest, SettlesWhereTheSignalSitsAtTheTarget) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SimulatedPrimary primary(/*capacity=*/40000, seed);
    Trace t = Simulate(primary, 90, [](int) {});
    const double want = primary.settle_rate();
    // From 1000 rows/s, at most x1.25 a second: there within about 20s.
    EXPECT_NEAR(Mean(t.rate, 30, 90), want, 0.2 * want) << "seed " << seed;
    EXPECT_NEAR(Mean(t.utilisation, 30, 90), 0.8, 0.15) << "seed " << seed;
    // Settled, not oscillating: the pace stays within a band once there.
    EXPECT_LT(Spread(t.rate, 30, 90), 0.8) << "seed " << seed;
    // The noise of a p95 over 50 beats takes it over the limit in at most
    // a fifth of the seconds (mean 8%); there the controller's pause holds
    // writes until the signal is back under the target.
    int paused = 0;
    for (int s = 30; s < 90; ++s) paused += t.utilisation[s] >= 1.0;
    EXPECT_LE(paused, 12) << "seed " << seed;
  }
}

TEST(PaceTest, AStepInTheServersLoadIsAnsweredWithinAFewSeconds) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SimulatedPrimary primary(/*capacity=*/40000, seed);
    // At 60s the application's own load doubles: the same rate now costs
    // four times the excess latency.
    Trace t = Simulate(primary, 150, [&](int s) {
      if (s == 60) primary.set_capacity(20000);
    });
    const double want = primary.settle_rate();
    int below = -1;
    for (int s = 60; s < 150 && below < 0; ++s) {
      if (t.rate[s] < 1.2 * want) below = s - 60;
    }
    // Within a few seconds; at worst a hold after an earlier step down
    // (5s) and the window's catching up (5s) delay it. Meanwhile the
    // controller's pause at utilisation >= 1 holds writes outright.
    EXPECT_GE(below, 0) << "seed " << seed;
    EXPECT_LE(below, 12) << "seed " << seed;
    // One overload, one cut: it does not collapse far below the new rate.
    const double low = *std::min_element(t.rate.begin() + 60, t.rate.end());
    EXPECT_GT(low, 0.3 * want) << "seed " << seed;
    EXPECT_NEAR(Mean(t.rate, 100, 150), want, 0.2 * want) << "seed " << seed;
  }
}

TEST(PaceTest, FromUnlimitedItComesDownAndSettles) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SimulatedPrimary primary(/*capacity=*/40000, seed);
    Trace t = Simulate(
        primary, 120, [](int) {}, /*initial=*/0);
    const double want = primary.settle_rate();
    // Flat out (500k rows/s) at first; one halving per hold (5s) brings it
    // to 20k within about 30s.
    EXPECT_NEAR(Mean(t.rate, 60, 120), want, 0.2 * want) << "seed " << seed;
    EXPECT_LT(Spread(t.rate, 60, 120), 0.8) << "seed " << seed;
  }
}

TEST(PaceTest, UnlimitedDoesNotEngageBeforeAnyRowsWereWritten) {
  // The first readings may come before the first chunk (the commit
  // latency's baseline takes a couple of seconds): there is no rate yet to
  // come down from, and engaging at the minimum would stall the run.
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Pace pace(PaceOptions(), t0);
  EXPECT_TRUE(pace.Observe(t0 + absl::Seconds(2), 0.9));
  EXPECT_EQ(pace.rows_per_second(), 0);
  pace.RecordRows(t0 + absl::Milliseconds(2500), 3000);
  EXPECT_TRUE(pace.Observe(t0 + absl::Seconds(3), 0.9));
  EXPECT_NEAR(pace.rows_per_second(), 1000 * std::exp(-0.05), 1e-6);
}

TEST(PaceTest, UnreadableHalvesThenHolds) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  PaceOptions options;
  options.initial_rows_per_second = 8000;
  Pace pace(options, t0);
  EXPECT_TRUE(pace.Observe(t0 + absl::Seconds(1),
                           std::numeric_limits<double>::infinity()));
  EXPECT_DOUBLE_EQ(pace.rows_per_second(), 4000);
  // Within the hold after a decrease nothing changes, however bad.
  for (int s = 2; s <= 10; ++s) pace.Observe(t0 + absl::Seconds(s), 5);
  EXPECT_DOUBLE_EQ(pace.rows_per_second(), 4000);
  // Over the limit but readable: in proportion, x exp(0.5 * (0.8 - 1.2)).
  pace.Observe(t0 + absl::Seconds(11), 1.2);
  EXPECT_DOUBLE_EQ(pace.rows_per_second(), 4000 * std::exp(-0.2));
}

TEST(PaceTest, StepsAtMostOncePerPeriod) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  PaceOptions options;
  options.initial_rows_per_second = 1000;
  Pace pace(options, t0);
  pace.RecordRows(t0 + absl::Milliseconds(500), 5000);
  EXPECT_FALSE(pace.Observe(t0 + absl::Milliseconds(900), 0));
  EXPECT_TRUE(pace.Observe(t0 + absl::Seconds(1), 0));
  EXPECT_DOUBLE_EQ(pace.rows_per_second(), 1250);  // x1.25 at most
  EXPECT_FALSE(pace.Observe(t0 + absl::Milliseconds(1500), 0));
}

TEST(PaceTest, DoesNotWindUpWhenThePaceIsNotTheBottleneck) {
  // The copier manages 5000 rows/s however fast the pace allows: a quiet
  // server must not run the pace up to millions, or it would take many
  // steps to bite when the server gets busy.
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  PaceOptions options;
  options.initial_rows_per_second = 1000;
  Pace pace(options, t0);
  for (int s = 1; s <= 120; ++s) {
    const absl::Time now = t0 + absl::Seconds(s);
    pace.RecordRows(
        now, static_cast<int64_t>(std::min(5000.0, pace.rows_per_second())));
    pace.Observe(now, 0);
  }
  EXPECT_GT(pace.rows_per_second(), 5000);
  EXPECT_LE(pace.rows_per_second(), 2 * 1.25 * 5000);
  EXPECT_NEAR(pace.Achieved(t0 + absl::Seconds(120)), 5000, 1);
}

TEST(PaceTest, NeverBelowTheMinimum) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  PaceOptions options;
  options.initial_rows_per_second = 1000;
  options.min_rows_per_second = 100;
  Pace pace(options, t0);
  for (int s = 1; s <= 60; ++s) pace.Observe(t0 + absl::Seconds(6 * s), 3);
  EXPECT_DOUBLE_EQ(pace.rows_per_second(), 100);
}

}  // namespace
}  // namespace backfill
