// The commit latency's baseline during the run: lowered when a window proves
// it too high, never raised by the run's own writes, and set by a window of
// beats taken while writes were held (backfill/engine/commit_latency.h,
// Record).

#include "backfill/engine/commit_latency.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/time/time.h"
#include "backfill/throttle/pace.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

constexpr absl::Duration kBeat = absl::Milliseconds(100);

CommitLatencyLimit Relative(double factor) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = factor;
  return limit;
}

// Records `n` beats of `took`, one every 100ms from `*at`; the last reading.
Reading Beats(CommitLatency& c, absl::Time* at, int n, absl::Duration took) {
  Reading r;
  for (int i = 0; i < n; ++i) {
    *at += kBeat;
    r = c.Record(*at, took);
  }
  return r;
}

TEST(CommitLatencyCorrectionTest, ATooHighBaselineIsLoweredByAFullWindow) {
  CommitLatency c(Relative(2));
  // Caught during a checkpoint: 8ms, for a server that commits in 1ms.
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(30, absl::Milliseconds(8)))
          .ok());
  absl::Time at = absl::FromUnixSeconds(1000);
  // Too few beats to prove anything yet.
  Reading r = Beats(c, &at, CommitLatency::kMinCorrectionBeats - 1,
                    absl::Milliseconds(1));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(8));
  EXPECT_DOUBLE_EQ(r.threshold, 0.016);
  // The next one completes a window whose p95 is an eighth of it.
  r = Beats(c, &at, 1, absl::Milliseconds(1));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(1));
  EXPECT_EQ(*c.limit(), absl::Milliseconds(2));
  EXPECT_EQ(c.corrections(), 1);
  EXPECT_DOUBLE_EQ(r.threshold, 0.002);
  EXPECT_DOUBLE_EQ(r.floor, 0.001);
  EXPECT_EQ(r.Describe(CommitLatency::kName),
            "commit_latency p95 1ms < 2ms, quiet 1ms");
  // Now 1.9ms beats read near the limit, where they read as quiet before.
  r = Beats(c, &at, 50, absl::Microseconds(1900));
  EXPECT_NEAR(r.Utilisation(), 0.9, 1e-9);
}

TEST(CommitLatencyCorrectionTest, NoiseWithinTheMarginLeavesIt) {
  CommitLatency c(Relative(2));
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(30, absl::Milliseconds(2)))
          .ok());
  absl::Time at = absl::FromUnixSeconds(1000);
  // A quiet window 15% below the baseline is the noise of a p95 over 50
  // beats, not proof: a baseline lowered by every lucky window would ratchet
  // down to the least of them.
  Beats(c, &at, 100, absl::Microseconds(1700));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(2));
  EXPECT_EQ(c.corrections(), 0);
}

TEST(CommitLatencyCorrectionTest, NeverRaisedByTheRunsWrites) {
  CommitLatency c(Relative(2));
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(30, absl::Milliseconds(1)))
          .ok());
  absl::Time at = absl::FromUnixSeconds(1000);
  // The run's own writes raise the latency: that is the signal, not a new
  // quiet figure.
  Reading r = Beats(c, &at, 100, absl::Milliseconds(10));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(1));
  EXPECT_GE(r.Utilisation(), 1);
}

// A baseline caught in a lucky moment (1.7 ms) under a server whose quiet
// beats read 3.7 ms: the hold it causes ends once a whole window (plus the
// settle time) has been held, because that window is a quiet measurement.
TEST(CommitLatencyHeldTest, AWindowHeldThroughBecomesTheBaseline) {
  CommitLatency c(Relative(2));
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(30, absl::Microseconds(1700)))
          .ok());
  absl::Time at = absl::FromUnixSeconds(1000);
  const absl::Time held_since = at;
  const absl::Duration quiet = absl::Microseconds(3700);
  Reading r;
  // Not yet: the window still holds beats from before the hold (or the
  // chunk in flight when it began).
  while (at - held_since < absl::Seconds(10)) {
    at += kBeat;
    r = c.Record(at, quiet, held_since);
  }
  EXPECT_EQ(*c.baseline(), absl::Microseconds(1700));
  EXPECT_GE(r.Utilisation(), 1);
  while (at - held_since < absl::Milliseconds(10600)) {
    at += kBeat;
    r = c.Record(at, quiet, held_since);
  }
  EXPECT_EQ(*c.baseline(), quiet);
  EXPECT_EQ(*c.limit(), 2 * quiet);
  EXPECT_EQ(c.held_rebaselines(), 1);
  EXPECT_EQ(c.corrections(), 0);
  EXPECT_LT(r.Utilisation(), 0.8);  // below the resume level: writes resume
  // Held on (by another signal, say): one rebaseline per window, not per beat.
  for (int i = 0; i < 50; ++i) {
    at += kBeat;
    c.Record(at, absl::Microseconds(3800), held_since);
  }
  EXPECT_EQ(*c.baseline(), quiet);
  EXPECT_EQ(c.held_rebaselines(), 1);
}

TEST(CommitLatencyCorrectionTest, AnAbsoluteLimitKeepsItsValue) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.max = absl::Milliseconds(5);
  CommitLatency c(limit);
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(30, absl::Milliseconds(4)))
          .ok());
  absl::Time at = absl::FromUnixSeconds(1000);
  Reading r = Beats(c, &at, 50, absl::Milliseconds(1));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(1));
  EXPECT_EQ(*c.limit(), absl::Milliseconds(5));
  EXPECT_DOUBLE_EQ(r.floor, 0.001);
}

// The pace (backfill/throttle/pace.h) on a simulated primary whose commit
// latency is 1ms x (1 + (rate / 40k rows/s)^2) x lognormal noise, read through
// CommitLatency as the engine reads it, with the default 2x limit. The
// baseline is measured right (quiet beats) or caught during a stall (8x).
// Returns the mean rate of the last minute of three.
double SettledRate(bool polluted_baseline, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 0.15);
  auto latency = [&](double rate) {
    const double x = rate / 40000;
    return absl::Microseconds(1000 * (1 + x * x) * std::exp(noise(rng)));
  };
  CommitLatency c(Relative(2));
  std::vector<absl::Duration> quiet;
  for (int i = 0; i < 60; ++i) {
    quiet.push_back(polluted_baseline ? 8 * latency(0) : latency(0));
  }
  EXPECT_TRUE(c.SetBaseline(quiet).ok());
  absl::Time at = absl::FromUnixSeconds(1700000000);
  PaceOptions options;
  options.initial_rows_per_second = 1000;
  Pace pace(options, at);
  double sum = 0;
  for (int beat = 0; beat < 1800; ++beat) {
    at += kBeat;
    const double rate = std::min(pace.rows_per_second(), 500000.0);
    const Reading r = c.Record(at, latency(rate));
    pace.RecordRows(at, static_cast<int64_t>(rate / 10));
    pace.Observe(at, r.Utilisation());
    if (beat >= 1200) sum += rate;
  }
  return sum / 600;
}

TEST(CommitLatencyCorrectionTest, APollutedBaselineSettlesWhereATrueOneDoes) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    const double right = SettledRate(false, seed);
    const double polluted = SettledRate(true, seed);
    // Uncorrected, the 16ms limit would let it run at over 100k rows/s.
    EXPECT_NEAR(polluted, right, 0.25 * right) << "seed " << seed;
    EXPECT_LT(polluted, 50000) << "seed " << seed;
  }
}

TEST(CommitLatencyRecheckTest, AQuietRecheckLowersAHighBaselineNeverRaisesIt) {
  CommitLatency c(Relative(2));
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(20, absl::Milliseconds(2)))
          .ok());  // caught during a checkpoint, say
  absl::Time at = absl::FromUnixSeconds(1000);
  c.StartRechecks(at);
  // Not yet due: the run writes, and its beats read 3 ms.
  for (int i = 0; i < 149; ++i) {
    at += kBeat;
    EXPECT_FALSE(c.Rechecking(at)) << i;
    c.Record(at, absl::Milliseconds(3));
  }
  at += kBeat;  // 15 s after the start: writes hold
  ASSERT_TRUE(c.Rechecking(at));
  const absl::Time began = at;
  c.Record(at, absl::Milliseconds(3));  // the chunk in flight: not counted
  while (at - began < absl::Seconds(3)) {
    at += kBeat;
    EXPECT_TRUE(c.Rechecking(at));
    c.Record(at, absl::Milliseconds(1));
  }
  EXPECT_FALSE(c.Rechecking(at + kBeat));  // over: writes go on
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(1));
  EXPECT_EQ(*c.limit(), absl::Milliseconds(2));
  EXPECT_EQ(c.corrections(), 1);

  // Two minutes on, a slower quiet figure leaves the baseline alone.
  at += absl::Minutes(2);
  ASSERT_TRUE(c.Rechecking(at));
  const absl::Time again = at;
  while (at - again < absl::Seconds(3)) {
    at += kBeat;
    c.Rechecking(at);
    c.Record(at, absl::Milliseconds(4));
  }
  EXPECT_FALSE(c.Rechecking(at + kBeat));
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(1));
}

TEST(CommitLatencyRecheckTest, NoRecheckWhenTurnedOff) {
  CommitLatencyLimit limit = Relative(2);
  limit.recheck_every = absl::ZeroDuration();
  CommitLatency c(limit);
  ASSERT_TRUE(
      c.SetBaseline(std::vector<absl::Duration>(20, absl::Milliseconds(2)))
          .ok());
  const absl::Time at = absl::FromUnixSeconds(1000);
  c.StartRechecks(at);
  EXPECT_FALSE(c.Rechecking(at + absl::Hours(1)));
}

}  // namespace
}  // namespace backfill
