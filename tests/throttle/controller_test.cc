#include "backfill/throttle/controller.h"

#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "backfill/throttle/signal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kLag[] = "replication_lag replica=r1";
constexpr char kLag2[] = "replication_lag replica=r2";
constexpr char kProbe[] = "probe_latency p95";
constexpr char kQuery[] = "throttle_query";

// A FakeClock that runs a hook on every SleepFor, standing in for the poller
// thread that would deliver readings while the copier waits.
class ScriptedClock : public FakeClock {
 public:
  void SleepFor(absl::Duration d) override {
    FakeClock::SleepFor(d);
    if (on_sleep) on_sleep();
  }
  std::function<void()> on_sleep;
};

// Lag in seconds against a 1s limit.
Reading Lag(double seconds, double critical = 0) {
  return Reading::Ok(seconds, 1.0, "s", critical);
}

class ControllerTest : public ::testing::Test {
 protected:
  ThrottleOptions Options() {
    ThrottleOptions o;
    o.clock = &clock_;
    return o;
  }
  ScriptedClock clock_;
};

TEST(FormatQuantityTest, Formats) {
  EXPECT_EQ(FormatQuantity(2.3, "s"), "2.3s");
  EXPECT_EQ(FormatQuantity(1, "s"), "1s");
  EXPECT_EQ(FormatQuantity(0.08, "s"), "80ms");
  EXPECT_EQ(FormatQuantity(0.0025, "s"), "2.5ms");
  EXPECT_EQ(FormatQuantity(0.9996, "s"), "1s");
  EXPECT_EQ(FormatQuantity(90, "s"), "90s");
  EXPECT_EQ(FormatQuantity(12, ""), "12");
  EXPECT_EQ(FormatQuantity(12.34, ""), "12.3");
  EXPECT_EQ(FormatQuantity(2.346, ""), "2.35");
  EXPECT_EQ(FormatQuantity(5242880, "B"), "5242880B");
  EXPECT_EQ(FormatQuantity(-0.001, ""), "0");
}

TEST(ReadingTest, UtilisationAndFailClosed) {
  EXPECT_DOUBLE_EQ(Lag(0.5).Utilisation(), 0.5);
  EXPECT_DOUBLE_EQ(Reading::Ok(12, 10).Utilisation(), 1.2);
  EXPECT_TRUE(std::isinf(Reading::Unreadable("x").Utilisation()));
  EXPECT_TRUE(std::isinf(Reading::Ok(1, 0).Utilisation()));
  EXPECT_TRUE(std::isinf(Reading::Ok(std::nan(""), 1).Utilisation()));
  EXPECT_EQ(Reading::Ok(1, 0, "s").Describe(kLag),
            "replication_lag replica=r1 unreadable: invalid threshold 0ms");
  EXPECT_EQ(Lag(0.4).Describe(kLag), "replication_lag replica=r1 400ms < 1s");
  EXPECT_TRUE(Lag(10, 10).Critical());
  EXPECT_FALSE(Lag(9, 10).Critical());
  EXPECT_FALSE(Lag(9).Critical());
  EXPECT_FALSE(Reading::Unreadable("down").Critical());
}

TEST_F(ControllerTest, ProceedsWithNoSignalsOrLowUtilisation) {
  ThrottleController c(Options());
  EXPECT_TRUE(c.Check().proceed());
  c.Update(kLag, Lag(0.5));
  c.Update(kProbe, Reading::Ok(0.02, 0.05, "s"));
  const Decision d = c.Check();
  EXPECT_TRUE(d.proceed());
  EXPECT_EQ(d.reason, "");
  EXPECT_EQ(d.label, "");
}

TEST_F(ControllerTest, PausesAtUtilisationOne) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.99));
  EXPECT_TRUE(c.Check().proceed());
  c.Update(kLag, Lag(1.0));
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "replication_lag replica=r1 1s >= 1s");
  EXPECT_EQ(d.label, kLag);
  c.Update(kLag, Lag(2.3));
  d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "replication_lag replica=r1 2.3s > 1s");
}

TEST_F(ControllerTest, ReasonStringsExact) {
  ThrottleController c(Options());
  c.Update(kProbe, Reading::Ok(0.080, 0.050, "s"));
  EXPECT_EQ(c.Check().reason, "probe_latency p95 80ms > 50ms");
  c.Update(kProbe, Reading::Ok(0.010, 0.050, "s"));
  c.Update(kQuery, Reading::Ok(12, 10));
  EXPECT_EQ(c.Check().reason, "throttle_query 12 > 10");
  EXPECT_EQ(c.Check().label, kQuery);
}

TEST_F(ControllerTest, Hysteresis) {
  ThrottleController c(Options());
  // Below 1 without having paused: proceed, even in the band.
  c.Update(kLag, Lag(0.9));
  EXPECT_TRUE(c.Check().proceed());

  c.Update(kLag, Lag(1.2));
  EXPECT_FALSE(c.Check().proceed());
  // Back under the threshold but not under 0.8: stays paused, and says so.
  c.Update(kLag, Lag(0.9));
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "replication_lag replica=r1 900ms, resumes below 800ms");
  EXPECT_EQ(d.label, kLag);
  c.Update(kLag, Lag(0.8));
  EXPECT_FALSE(c.Check().proceed());
  c.Update(kLag, Lag(0.79));
  EXPECT_TRUE(c.Check().proceed());
  // And back in the band after resuming: keeps going.
  c.Update(kLag, Lag(0.95));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, ResumesOnlyWhenAllSignalsBelowResumeLevel) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(1.5));
  c.Update(kLag2, Lag(0.85));
  EXPECT_EQ(c.Check().reason, "replication_lag replica=r1 1.5s > 1s");
  c.Update(kLag, Lag(0.1));
  // r1 recovered, r2 is still in the band: still paused, now on r2.
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "replication_lag replica=r2 850ms, resumes below 800ms");
  EXPECT_EQ(d.label, kLag2);
  c.Update(kLag2, Lag(0.7));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, ReportsHighestUtilisation) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(1.1));
  c.Update(kProbe, Reading::Ok(0.2, 0.05, "s"));  // utilisation 4
  c.Update(kQuery, Reading::Ok(15, 10));
  EXPECT_EQ(c.Check().reason, "probe_latency p95 200ms > 50ms");
}

TEST_F(ControllerTest, FailsClosedOnErrorReading) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.1));
  c.Update(kLag2, Reading::Unreadable("connection refused"));
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason,
            "replication_lag replica=r2 unreadable: connection refused");
  EXPECT_EQ(d.label, "replication_lag replica=r2 unreadable");
  c.Update(kLag2, Lag(0.2));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, FailsClosedOnNaNAndBadThreshold) {
  ThrottleController c(Options());
  c.Update(kQuery, Reading::Ok(std::nan(""), 10));
  EXPECT_EQ(c.Check().reason,
            "throttle_query unreadable: value is not a number");
  c.Update(kQuery, Reading::Ok(1, 0));
  EXPECT_EQ(c.Check().reason, "throttle_query unreadable: invalid threshold 0");
}

TEST_F(ControllerTest, FailsClosedOnStaleReading) {
  ThrottleOptions o = Options();
  o.staleness_limit = absl::Seconds(2);
  ThrottleController c(o);
  c.Update(kLag, Lag(0.1));
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(c.Check().proceed());  // exactly at the limit: still fresh
  clock_.Advance(absl::Milliseconds(500));
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason,
            "replication_lag replica=r1 unreadable: no reading for 2.5s");
  EXPECT_EQ(d.label, "replication_lag replica=r1 unreadable");
  c.Update(kLag, Lag(0.1));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, StalenessCanBeDisabled) {
  ThrottleOptions o = Options();
  o.staleness_limit = absl::InfiniteDuration();
  ThrottleController c(o);
  c.Update(kLag, Lag(0.1));
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, RegisteredSignalHoldsWritesUntilFirstReading) {
  ThrottleController c(Options());
  c.AddSignal(kLag);
  c.AddSignal(kLag);  // idempotent
  EXPECT_EQ(c.Check().reason,
            "replication_lag replica=r1 unreadable: no reading yet");
  c.Update(kLag, Lag(0.3));
  EXPECT_TRUE(c.Check().proceed());
  EXPECT_EQ(c.Signals().size(), 1u);
}

TEST_F(ControllerTest, OperatorPause) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.9));
  c.SetOperatorPause(true);
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "paused by operator");
  EXPECT_EQ(d.label, "paused by operator");
  // Takes precedence over a signal over its threshold.
  c.Update(kLag, Lag(3));
  EXPECT_EQ(c.Check().reason, "paused by operator");
  c.Update(kLag, Lag(0.9));
  c.SetOperatorPause(false);
  // The signal latch was set by the 3s reading: 0.9 is still in the band.
  EXPECT_FALSE(c.Check().proceed());
  c.Update(kLag, Lag(0.5));
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, OperatorResumeHasNoHysteresis) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.9));
  c.SetOperatorPause(true);
  EXPECT_FALSE(c.Check().proceed());
  c.SetOperatorPause(false);
  EXPECT_TRUE(c.Check().proceed());  // the signal never crossed 1
}

TEST_F(ControllerTest, CriticalThreshold) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(5, /*critical=*/10));
  EXPECT_EQ(c.Check().action, Decision::Action::kWait);
  c.Update(kLag, Lag(12, /*critical=*/10));
  c.SetOperatorPause(true);
  Decision d = c.Check();
  EXPECT_EQ(d.action, Decision::Action::kCritical);
  EXPECT_TRUE(d.critical());
  EXPECT_EQ(d.reason, "critical: replication_lag replica=r1 12s > 10s");
  EXPECT_EQ(d.label, "replication_lag replica=r1 critical");
  ThrottleState s = c.State();
  EXPECT_TRUE(s.throttled);
  EXPECT_TRUE(s.critical);
}

TEST_F(ControllerTest, UnreadableOrStaleIsNeverCritical) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(12, 10));
  clock_.Advance(absl::Seconds(3));  // stale: the 12s is no longer known
  EXPECT_EQ(c.Check().action, Decision::Action::kWait);
  c.Update(kLag, Reading::Unreadable("timeout"));
  EXPECT_EQ(c.Check().action, Decision::Action::kWait);
}

TEST_F(ControllerTest, StateReportsReasonAndSince) {
  ThrottleController c(Options());
  ThrottleState s = c.State();
  EXPECT_FALSE(s.throttled);
  EXPECT_EQ(s.reason, "");
  EXPECT_EQ(s.since, absl::InfinitePast());

  const absl::Time t0 = clock_.Now();
  c.Update(kLag, Lag(2));
  clock_.Advance(absl::Seconds(1));
  c.Update(kLag, Reading::Unreadable("gone"));
  s = c.State();
  EXPECT_TRUE(s.throttled);
  EXPECT_FALSE(s.critical);
  EXPECT_EQ(s.reason, "replication_lag replica=r1 unreadable: gone");
  EXPECT_EQ(s.since, t0);  // a change of reason does not restart the episode
  c.Update(kLag, Lag(0.1));
  EXPECT_FALSE(c.State().throttled);
}

TEST_F(ControllerTest, SignalsSnapshot) {
  ThrottleController c(Options());
  c.AddSignal(kLag2);
  c.Update(kLag, Lag(0.5));
  clock_.Advance(absl::Milliseconds(300));
  std::vector<SignalStatus> s = c.Signals();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, kLag);
  ASSERT_TRUE(s[0].reading.has_value());
  EXPECT_DOUBLE_EQ(s[0].reading->value, 0.5);
  EXPECT_EQ(s[0].age, absl::Milliseconds(300));
  EXPECT_DOUBLE_EQ(s[0].utilisation, 0.5);
  EXPECT_EQ(s[0].reason, "replication_lag replica=r1 500ms < 1s");
  EXPECT_EQ(s[1].name, kLag2);
  EXPECT_FALSE(s[1].reading.has_value());
  EXPECT_TRUE(std::isinf(s[1].utilisation));
  EXPECT_EQ(s[1].age, absl::InfiniteDuration());
}

TEST_F(ControllerTest, ThrottleSecondsPerLabel) {
  ThrottleOptions o = Options();
  o.staleness_limit = absl::InfiniteDuration();
  ThrottleController c(o);
  c.Update(kLag, Lag(0.1));
  clock_.Advance(absl::Seconds(10));  // not throttled: not counted
  c.Update(kLag, Lag(2));
  clock_.Advance(absl::Seconds(3));
  c.SetOperatorPause(true);
  clock_.Advance(absl::Seconds(2));
  c.SetOperatorPause(false);
  c.Update(kLag, Lag(0.9));  // hysteresis band: still charged to the lag
  clock_.Advance(absl::Seconds(1));
  c.Update(kLag2, Reading::Unreadable("down"));
  clock_.Advance(absl::Milliseconds(500));
  c.Update(kLag2, Lag(0.1));
  c.Update(kLag, Lag(0.1));
  clock_.Advance(absl::Seconds(7));  // running again: not counted
  EXPECT_THAT(c.ThrottleTime(),
              ElementsAre(Pair("paused by operator", absl::Seconds(2)),
                          Pair(kLag, absl::Seconds(4)),
                          Pair("replication_lag replica=r2 unreadable",
                               absl::Milliseconds(500))));
}

TEST_F(ControllerTest, ThrottleSecondsIncludeEpisodeInProgress) {
  ThrottleController c(Options());
  c.SetOperatorPause(true);
  clock_.Advance(absl::Seconds(4));
  EXPECT_THAT(c.ThrottleTime(),
              ElementsAre(Pair("paused by operator", absl::Seconds(4))));
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(c.ThrottleTime(),
              ElementsAre(Pair("paused by operator", absl::Seconds(5))));
}

TEST_F(ControllerTest, NoRateCapMeansNoDelay) {
  ThrottleController c(Options());
  EXPECT_EQ(c.DelayFor(1000000), absl::ZeroDuration());
  c.RecordChunk(1000000);
  EXPECT_EQ(c.DelayFor(1000000), absl::ZeroDuration());
}

TEST_F(ControllerTest, TokenBucketDelay) {
  ThrottleOptions o = Options();
  o.max_rows_per_second = 1000;  // bucket: 1000 rows, starts full
  ThrottleController c(o);
  EXPECT_EQ(c.DelayFor(1000), absl::ZeroDuration());
  EXPECT_EQ(c.DelayFor(1000), absl::ZeroDuration());  // DelayFor is pure
  c.RecordChunk(1000);
  EXPECT_EQ(c.DelayFor(500), absl::Milliseconds(500));
  clock_.Advance(absl::Milliseconds(200));
  EXPECT_EQ(c.DelayFor(500), absl::Milliseconds(300));
  EXPECT_EQ(c.DelayFor(0), absl::ZeroDuration());
  clock_.Advance(absl::Seconds(60));  // refill caps at the bucket size
  c.RecordChunk(1000);
  EXPECT_EQ(c.DelayFor(1), absl::Milliseconds(1));
}

TEST_F(ControllerTest, ChunkLargerThanBucketLeavesDebt) {
  ThrottleOptions o = Options();
  o.max_rows_per_second = 100;
  o.burst_rows = 100;
  ThrottleController c(o);
  EXPECT_EQ(c.DelayFor(1000), absl::ZeroDuration());  // full bucket suffices
  c.RecordChunk(1000);
  // 900 rows of debt plus a full bucket of 100 for the next big chunk.
  EXPECT_EQ(c.DelayFor(1000), absl::Seconds(10));
}

TEST_F(ControllerTest, TokenBucketHoldsRateOverSimulatedTime) {
  ThrottleOptions o = Options();
  o.max_rows_per_second = 1000;
  ThrottleController c(o);
  const absl::Time start = clock_.Now();
  int64_t rows = 0;
  int64_t rows_after_10s = -1;
  while (clock_.Now() - start < absl::Seconds(20)) {
    WaitResult w = c.WaitUntilAllowed(250, [] { return false; });
    ASSERT_EQ(w.outcome, WaitResult::Outcome::kProceed);
    if (rows_after_10s < 0 && clock_.Now() - start >= absl::Seconds(10)) {
      rows_after_10s = rows;
    }
    rows += 250;
    c.RecordChunk(250);
    clock_.Advance(absl::Milliseconds(20));  // the chunk's own time
  }
  // One full bucket at the start, then 1000 rows/s.
  EXPECT_GE(rows_after_10s, 10500);
  EXPECT_LE(rows_after_10s, 11000);
  EXPECT_GE(rows, 20500);
  EXPECT_LE(rows, 21250);
  // All the waiting went through the clock, in steps of at most 100ms, and
  // is accounted under the rate label.
  EXPECT_GT(clock_.slept(), absl::Seconds(15));
  std::map<std::string, absl::Duration> t = c.ThrottleTime();
  EXPECT_EQ(t[std::string(ThrottleController::kRateLabel)], clock_.slept());
}

// A pace that starts at `rows_per_second` rather than unlimited.
PaceOptions Paced(double rows_per_second) {
  PaceOptions p;
  p.initial_rows_per_second = rows_per_second;
  return p;
}

TEST(ReadingTest, FloorCountsTheExcessOverQuiet) {
  Reading r = Reading::Ok(0.0015, 0.002, "s");
  r.floor = 0.001;
  EXPECT_DOUBLE_EQ(r.Utilisation(), 0.5);
  EXPECT_EQ(r.Describe("commit_latency p95"),
            "commit_latency p95 1.5ms < 2ms, quiet 1ms");
  r.floor = 0.002;  // no room at all: fail closed
  EXPECT_TRUE(std::isinf(r.Utilisation()));
  EXPECT_EQ(r.Describe("commit_latency p95"),
            "commit_latency p95 unreadable: invalid threshold 2ms");
}

TEST_F(ControllerTest, AnEngineHoldHoldsWritesUntilCleared) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.1));
  EXPECT_TRUE(c.Check().proceed());
  c.SetHold("measuring the quiet commit latency");
  Decision d = c.Check();
  EXPECT_FALSE(d.proceed());
  EXPECT_EQ(d.reason, "measuring the quiet commit latency");
  EXPECT_EQ(d.label, "measuring the quiet commit latency");
  c.SetOperatorPause(true);  // the operator's word comes first
  EXPECT_EQ(c.Check().reason, "paused by operator");
  c.SetOperatorPause(false);
  c.SetHold("");
  EXPECT_TRUE(c.Check().proceed());  // no hysteresis
}

TEST_F(ControllerTest, ChunkRowsCapFollowsItsTimeAndFloor) {
  ThrottleOptions o = Options();
  o.max_rows_per_second = 20000;
  o.chunk_cap_time = absl::Milliseconds(10);
  o.chunk_cap_min_rows = 100;
  {
    ThrottleController c(o);
    EXPECT_EQ(c.ChunkRowsCap(), 200);  // a hundredth of a second of 20k
  }
  o.max_rows_per_second = 5000;
  {
    ThrottleController c(o);
    EXPECT_EQ(c.ChunkRowsCap(), 100);  // 50 would be below the floor
  }
}

TEST_F(ControllerTest, PaceSpacesChunksAndAccountsItsWaits) {
  ThrottleOptions o = Options();
  o.pace = Paced(1000);
  ThrottleController c(o);
  c.Update(kQuery, Reading::Ok(8, 10));  // 0.8: at the pace's target
  EXPECT_EQ(c.ChunkRowsCap(), 100);      // a tenth of a second of the pace
  EXPECT_EQ(c.DelayFor(1000), absl::ZeroDuration());  // a full bucket
  c.RecordChunk(1000);
  EXPECT_EQ(c.DelayFor(1000), absl::Seconds(1));
  WaitResult w = c.WaitUntilAllowed(1000, [] { return false; });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kProceed);
  EXPECT_EQ(w.waited, absl::Seconds(1));
  EXPECT_EQ(w.reason, "pace 1000 rows/s");
  EXPECT_EQ(c.ThrottleTime()[std::string(ThrottleController::kPaceLabel)],
            absl::Seconds(1));
  // Waiting on the pace is not a throttle: writes are not held.
  EXPECT_FALSE(c.State().throttled);
}

TEST_F(ControllerTest, PaceFollowsTheSignalNearestItsThreshold) {
  ThrottleOptions o = Options();
  o.pace = Paced(1000);
  o.staleness_limit = absl::InfiniteDuration();  // no poller here
  ThrottleController c(o);
  c.Update(kLag, Lag(0.1));
  c.Update(kQuery, Reading::Ok(9, 10));  // 0.9: the worst, under 1
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(c.Check().proceed());  // the pace's first step
  ThrottleState st = c.State();
  // x exp(0.5 * (0.8 - 0.9))
  EXPECT_NEAR(st.pace_rows_per_second, 1000 * std::exp(-0.05), 1e-6);
  EXPECT_EQ(st.pace_signal, kQuery);
  EXPECT_TRUE(st.paced);
  EXPECT_EQ(c.PacingSummary(), "pace 951 rows/s (throttle_query 9 < 10)");
  // A signal with a quiet floor is always named: `status` shows the
  // commit latency's baseline.
  Reading commit = Reading::Ok(0.0012, 0.003, "s");
  commit.floor = 0.001;
  c.Update("commit_latency p95", commit);
  EXPECT_EQ(c.PacingSummary(),
            "pace 951 rows/s (throttle_query 9 < 10); commit_latency p95 "
            "1.2ms < 3ms, quiet 1ms");
  c.RecordChunk(951);
  WaitResult w = c.WaitUntilAllowed(951, [] { return false; });
  EXPECT_THAT(w.reason, ::testing::StartsWith("pace "));
  EXPECT_THAT(w.reason, ::testing::HasSubstr("(throttle_query 9 < 10)"));
}

TEST_F(ControllerTest, RowsCapWinsWhenBelowThePace) {
  ThrottleOptions o = Options();
  o.pace = Paced(1000);
  o.max_rows_per_second = 500;
  ThrottleController c(o);
  c.RecordChunk(500);
  WaitResult w = c.WaitUntilAllowed(500, [] { return false; });
  EXPECT_EQ(w.waited, absl::Seconds(1));
  EXPECT_EQ(w.reason, "max_rows_per_second 500");
  EXPECT_EQ(c.ThrottleTime()[std::string(ThrottleController::kRateLabel)],
            absl::Seconds(1));
  EXPECT_EQ(c.ThrottleTime().count(std::string(ThrottleController::kPaceLabel)),
            0u);
}

TEST_F(ControllerTest, AnUnlimitedPaceEngagesAtTheCopiersRate) {
  ThrottleOptions o = Options();
  o.pace = PaceOptions();
  o.staleness_limit = absl::InfiniteDuration();
  ThrottleController c(o);
  c.Update(kQuery, Reading::Ok(2, 10));
  EXPECT_EQ(c.PacingSummary(), "pace unlimited");
  for (int s = 1; s <= 3; ++s) {  // flat out: 30000 rows/s
    clock_.Advance(absl::Seconds(1));
    EXPECT_EQ(c.DelayFor(30000), absl::ZeroDuration());
    c.RecordChunk(30000);
    c.Check();
  }
  EXPECT_EQ(c.State().pace_rows_per_second, 0);
  c.Update(kQuery, Reading::Ok(9.9, 10));  // the server is suffering
  clock_.Advance(absl::Seconds(1));
  c.RecordChunk(30000);
  c.Check();
  // 30000 rows/s achieved, times exp(0.5 * (0.8 - 0.99)).
  EXPECT_NEAR(c.State().pace_rows_per_second, 30000 * std::exp(-0.095), 1);
  c.RecordChunk(30000);
  EXPECT_GT(c.DelayFor(30000), absl::Milliseconds(500));
}

TEST_F(ControllerTest, NoPaceWithoutPaceOptions) {
  ThrottleController c(Options());
  c.Update(kQuery, Reading::Ok(9, 10));
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(c.State().pace_rows_per_second, 0);
  EXPECT_FALSE(c.State().paced);
  EXPECT_EQ(c.PacingSummary(), "");
  EXPECT_EQ(c.ChunkRowsCap(), 0);
  c.RecordChunk(1000000);
  EXPECT_EQ(c.DelayFor(1000000), absl::ZeroDuration());
}

TEST_F(ControllerTest, WaitUntilAllowedWaitsForResume) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(2));
  // The "poller": lag falls by 200ms for every 100ms slept, fresh each time.
  double lag = 2;
  clock_.on_sleep = [&] {
    lag -= 0.2;
    c.Update(kLag, Lag(lag));
  };
  std::vector<std::string> events;
  WaitResult w = c.WaitUntilAllowed(
      100, [] { return false; },
      [&](const Decision& d) { events.push_back(d.reason); });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kProceed);
  // 2.0 -> 1.8 ... -> 0.8 (band) -> 0.6 < 0.8: seven steps of 100ms.
  EXPECT_EQ(w.waited, absl::Milliseconds(700));
  EXPECT_NEAR(lag, 0.6, 1e-9);
  EXPECT_EQ(w.reason, "replication_lag replica=r1 800ms, resumes below 800ms");
  // One event: the label stayed the lag signal's throughout.
  EXPECT_THAT(events, ElementsAre("replication_lag replica=r1 2s > 1s"));
}

TEST_F(ControllerTest, WaitUntilAllowedReportsLabelChanges) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(2));
  int sleeps = 0;
  clock_.on_sleep = [&] {
    ++sleeps;
    if (sleeps == 1) c.Update(kLag, Reading::Unreadable("timeout"));
    if (sleeps == 2) c.SetOperatorPause(true);
    if (sleeps == 3) {
      c.SetOperatorPause(false);
      c.Update(kLag, Lag(0.1));
    }
  };
  std::vector<std::string> labels;
  WaitResult w = c.WaitUntilAllowed(
      100, [] { return false; },
      [&](const Decision& d) { labels.push_back(d.label); });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kProceed);
  EXPECT_THAT(labels, ElementsAre(kLag, "replication_lag replica=r1 unreadable",
                                  "paused by operator"));
}

TEST_F(ControllerTest, WaitUntilAllowedStops) {
  ThrottleController c(Options());
  c.SetOperatorPause(true);
  int checks = 0;
  WaitResult w = c.WaitUntilAllowed(100, [&] { return ++checks > 5; });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kStopped);
  EXPECT_EQ(w.reason, "paused by operator");
  EXPECT_EQ(w.waited, absl::Milliseconds(500));
  EXPECT_EQ(clock_.sleeps(), 5);
}

TEST_F(ControllerTest, WaitUntilAllowedReturnsCritical) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(2, 10));
  clock_.on_sleep = [&] { c.Update(kLag, Lag(11, 10)); };
  WaitResult w = c.WaitUntilAllowed(100, [] { return false; });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kCritical);
  EXPECT_EQ(w.reason, "critical: replication_lag replica=r1 11s > 10s");
  EXPECT_EQ(w.waited, absl::Milliseconds(100));
}

TEST_F(ControllerTest, WaitUntilAllowedProceedsAtOnceWhenClear) {
  ThrottleController c(Options());
  c.Update(kLag, Lag(0.1));
  WaitResult w = c.WaitUntilAllowed(100, [] { return true; });
  EXPECT_EQ(w.outcome, WaitResult::Outcome::kProceed);
  EXPECT_EQ(w.waited, absl::ZeroDuration());
  EXPECT_EQ(clock_.sleeps(), 0);
}

class ScriptedSignal : public Signal {
 public:
  explicit ScriptedSignal(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Reading Read() override { return next; }
  Reading next;

 private:
  std::string name_;
};

TEST_F(ControllerTest, PollReadsTheSignal) {
  ThrottleController c(Options());
  ScriptedSignal s(kQuery);
  s.next = Reading::Ok(12, 10);
  c.Poll(s);
  EXPECT_EQ(c.Check().reason, "throttle_query 12 > 10");
  s.next = Reading::Ok(3, 10);
  c.Poll(s);
  EXPECT_TRUE(c.Check().proceed());
}

TEST_F(ControllerTest, ConcurrentUpdatesAndChecks) {
  // Meant to run under TSan as well: the poller and the copier share the
  // controller with no other synchronisation.
  ThrottleOptions o = Options();
  o.max_rows_per_second = 1e9;
  ThrottleController c(o);
  std::thread poller([&] {
    for (int i = 0; i < 2000; ++i) {
      c.Update(i % 2 ? kLag : kLag2, Lag((i % 30) / 10.0));
      c.SetOperatorPause(i % 7 == 0);
    }
  });
  int critical = 0;
  for (int i = 0; i < 2000; ++i) {
    if (c.Check().critical()) ++critical;
    c.DelayFor(10);
    c.RecordChunk(10);
    c.State();
    c.ThrottleTime();
  }
  poller.join();
  EXPECT_EQ(critical, 0);
  c.Update(kLag, Lag(0.1));
  c.Update(kLag2, Lag(0.1));
  c.SetOperatorPause(false);
  EXPECT_TRUE(c.Check().proceed());
}

TEST(IgnoreUnreachableReplicasTest, IgnoresUpToNUnreadableReplicasAndSaysSo) {
  FakeClock clock;
  ThrottleOptions options;
  options.clock = &clock;
  options.ignore_unreadable_replicas = 1;
  ThrottleController c(options);
  const std::string r1 = "replication_lag replica=r1:1";
  const std::string r2 = "replication_lag replica=r2:1";
  c.AddSignal(r1, SignalKind::kReplicaLag, "r1:1");
  c.AddSignal(r2, SignalKind::kReplicaLag, "r2:1");
  c.AddSignal("heartbeat", SignalKind::kHeartbeat);
  c.Update(r1, Reading::Ok(0.1, 1.0, "s"));
  c.Update(r2, Reading::Ok(0.1, 1.0, "s"));
  c.Update("heartbeat", Reading::Ok(0.01, 1.0, "s"));
  EXPECT_TRUE(c.Check().proceed());
  EXPECT_TRUE(c.Check().ignored.empty());

  // One replica down: ignored, loudly.
  c.Update(r1, Reading::Unreadable("connection refused"));
  Decision d = c.Check();
  EXPECT_TRUE(d.proceed()) << d.reason;
  ASSERT_EQ(d.ignored.size(), 1u);
  EXPECT_EQ(d.ignored.begin()->first, r1);
  EXPECT_EQ(d.ignored.begin()->second, r1 + " unreadable: connection refused");

  // The other one merely lagging still holds writes.
  c.Update(r2, Reading::Ok(3, 1.0, "s"));
  d = c.Check();
  EXPECT_FALSE(d.proceed());
  EXPECT_EQ(d.label, r2);

  // Both down: more than N, fail closed.
  c.Update(r2, Reading::Unreadable("timeout"));
  d = c.Check();
  EXPECT_FALSE(d.proceed());
  EXPECT_TRUE(d.ignored.empty());

  // The heartbeat (the primary) is never ignored.
  c.Update(r2, Reading::Ok(0.1, 1.0, "s"));
  c.Update("heartbeat", Reading::Unreadable("primary down"));
  EXPECT_FALSE(c.Check().proceed());
}

TEST(IgnoreUnreachableReplicasTest, OnlyReplicaLagSignalsMayBeIgnored) {
  FakeClock clock;
  ThrottleOptions options;
  options.clock = &clock;
  options.ignore_unreadable_replicas = 1;
  ThrottleController c(options);
  // Named like a replica, but not one: it holds writes when unreadable.
  c.AddSignal("replication_lag replica=r1:1", SignalKind::kOther);
  c.Update("replication_lag replica=r1:1", Reading::Unreadable("refused"));
  EXPECT_FALSE(c.Check().proceed());
  c.AddSignal("replication_lag replica=r1:1", SignalKind::kReplicaLag, "r1:1");
  EXPECT_TRUE(c.Check().proceed());
}

TEST(IgnoreUnreachableReplicasTest, UnreadableReplicaHoldsWritesByDefault) {
  FakeClock clock;
  ThrottleOptions options;
  options.clock = &clock;
  ThrottleController c(options);
  c.AddSignal("replication_lag replica=r1:1", SignalKind::kReplicaLag, "r1:1");
  c.Update("replication_lag replica=r1:1", Reading::Unreadable("refused"));
  EXPECT_FALSE(c.Check().proceed());
  EXPECT_TRUE(c.Check().ignored.empty());
}

}  // namespace
}  // namespace backfill
