// The Pacer (backfill/engine/pacer.h) and the probe-latency signal with fake
// signals, a fake heartbeat and a fake clock: what reaches the controller,
// fail-closed on errors and hung signals, clean start/stop of the threads.

#include "backfill/engine/pacer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "backfill/engine/commit_latency.h"
#include "backfill/engine/probe_signal.h"
#include "backfill/throttle/controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;

constexpr char kLag[] = "replication_lag replica=r1:5432";

// A signal that returns scripted readings (the last one repeats), counts its
// reads and can be made to block until released, like a hung replica.
class FakeSignal : public Signal {
 public:
  explicit FakeSignal(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }
  Reading Read() override {
    if (block_) {
      waiting_ = true;
      release_.WaitForNotification();
    }
    reads_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    Reading r = script_.front();
    if (script_.size() > 1) script_.pop_front();
    return r;
  }

  void Script(std::deque<Reading> readings) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(readings);
  }
  void BlockUntilReleased() { block_ = true; }
  void Release() { release_.Notify(); }
  int reads() const { return reads_.load(); }
  bool waiting() const { return waiting_.load(); }

 private:
  const std::string name_;
  absl::Mutex mu_;
  std::deque<Reading> script_ ABSL_GUARDED_BY(mu_) = {
      Reading::Ok(0.1, 1.0, "s")};
  std::atomic<bool> block_{false};
  std::atomic<bool> waiting_{false};
  absl::Notification release_;
  std::atomic<int> reads_{0};
};

// A heartbeat whose beats fail while `error` is set and take `cost` of the
// fake clock's time.
class FakeHeartbeat : public Heartbeat {
 public:
  explicit FakeHeartbeat(FakeClock* clock) : clock_(clock) {}
  absl::Status Beat() override {
    beats.fetch_add(1);
    clock_->Advance(cost);
    return error;
  }

  FakeClock* clock_;
  std::atomic<int> beats{0};
  absl::Duration cost = absl::Milliseconds(3);
  absl::Status error;
};

// Waits (really) until `done()` or 10s; true if it became true.
template <typename F>
bool Eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

class PacerTest : public ::testing::Test {
 protected:
  PacerTest() : controller_(Options()) {}

  ThrottleOptions Options() {
    ThrottleOptions o;
    o.clock = &clock_;
    return o;
  }
  PacerOptions PacerOpts() {
    PacerOptions o;
    o.clock = &clock_;
    return o;
  }

  FakeClock clock_;
  ThrottleController controller_;
};

TEST_F(PacerTest, PollOnceFeedsEveryReadingToTheController) {
  Pacer pacer(&controller_, PacerOpts());
  auto lag = std::make_unique<FakeSignal>(kLag);
  FakeSignal* lag_ptr = lag.get();
  lag->Script({Reading::Ok(0.2, 1.0, "s"), Reading::Ok(2.3, 1.0, "s"),
               Reading::Ok(0.5, 1.0, "s")});
  pacer.AddSignal(std::move(lag));
  EXPECT_EQ(pacer.signal_count(), 1u);

  pacer.PollOnce();
  EXPECT_TRUE(controller_.Check().proceed());
  pacer.PollOnce();
  Decision held = controller_.Check();
  EXPECT_EQ(held.action, Decision::Action::kWait);
  EXPECT_EQ(held.reason, "replication_lag replica=r1:5432 2.3s > 1s");
  pacer.PollOnce();  // 0.5s is below the resume level (0.8s)
  EXPECT_TRUE(controller_.Check().proceed());
  EXPECT_EQ(lag_ptr->reads(), 3);
}

TEST_F(PacerTest, FailedHeartbeatHoldsWritesAndSaysWhy) {
  Pacer pacer(&controller_, PacerOpts());
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  FakeHeartbeat* beat = heartbeat.get();
  pacer.SetHeartbeat(std::move(heartbeat));

  pacer.PollOnce();
  EXPECT_TRUE(controller_.Check().proceed());
  EXPECT_EQ(beat->beats.load(), 1);

  beat->error = absl::UnavailableError(
      "cannot write the heartbeat: server closed the connection");
  pacer.PollOnce();
  Decision d = controller_.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason,
            "heartbeat unreadable: cannot write the heartbeat: server closed "
            "the connection");
  EXPECT_EQ(d.label, "heartbeat unreadable");

  beat->error = absl::OkStatus();
  pacer.PollOnce();
  EXPECT_TRUE(controller_.Check().proceed());
}

TEST_F(PacerTest, SlowHeartbeatCountsAgainstItsThreshold) {
  PacerOptions options = PacerOpts();
  options.heartbeat_threshold = absl::Seconds(1);
  Pacer pacer(&controller_, options);
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  heartbeat->cost = absl::Milliseconds(1500);  // by the fake clock
  pacer.SetHeartbeat(std::move(heartbeat));
  pacer.PollOnce();
  EXPECT_EQ(controller_.Check().reason, "heartbeat 1.5s > 1s");
}

TEST_F(PacerTest, SignalsCountAsUnreadableUntilTheirFirstReading) {
  Pacer pacer(&controller_, PacerOpts());
  auto lag = std::make_unique<FakeSignal>(kLag);
  FakeSignal* lag_ptr = lag.get();
  lag->BlockUntilReleased();  // the replica does not answer yet
  pacer.AddSignal(std::move(lag), absl::Milliseconds(1));

  pacer.Start(/*first_reading_wait=*/absl::Milliseconds(20));
  Decision d = controller_.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason,
            "replication_lag replica=r1:5432 unreadable: no reading yet");

  lag_ptr->Release();
  EXPECT_TRUE(Eventually([&] { return controller_.Check().proceed(); }));
  pacer.Stop();
}

TEST_F(PacerTest, StartWaitsForFirstReadings) {
  Pacer pacer(&controller_, PacerOpts());
  pacer.AddSignal(std::make_unique<FakeSignal>(kLag), absl::Hours(1));
  pacer.AddSignal(std::make_unique<FakeSignal>("probe_latency p95"),
                  absl::Hours(1));
  pacer.SetHeartbeat(std::make_unique<FakeHeartbeat>(&clock_));
  pacer.Start(absl::Seconds(10));
  // Every signal has reported by the time Start returns: no throttle event
  // at the start of a run.
  EXPECT_TRUE(controller_.Check().proceed());
  EXPECT_EQ(controller_.Signals().size(), 3u);
  pacer.Stop();
}

TEST_F(PacerTest, HungSignalGoesStaleWithoutStallingTheOthers) {
  Pacer pacer(&controller_, PacerOpts());
  auto hung = std::make_unique<FakeSignal>(kLag);
  FakeSignal* hung_ptr = hung.get();
  auto probe = std::make_unique<FakeSignal>("probe_latency p95");
  FakeSignal* probe_ptr = probe.get();
  probe->Script({Reading::Ok(0.01, 0.05, "s")});
  pacer.AddSignal(std::move(hung), absl::Milliseconds(1));
  pacer.AddSignal(std::move(probe), absl::Milliseconds(1));
  pacer.Start(absl::Seconds(5));
  EXPECT_TRUE(controller_.Check().proceed());

  // The replica stops answering in the middle of a reading.
  hung_ptr->BlockUntilReleased();
  ASSERT_TRUE(Eventually([&] { return hung_ptr->waiting(); }));
  const int probe_reads = probe_ptr->reads();
  ASSERT_TRUE(Eventually([&] { return probe_ptr->reads() > probe_reads + 20; }))
      << "the probe's thread stalled behind the hung signal";

  // Past the staleness limit (fake time), the hung signal holds writes.
  clock_.Advance(absl::Milliseconds(2500));
  const int reads_at_advance = probe_ptr->reads();
  ASSERT_TRUE(
      Eventually([&] { return probe_ptr->reads() > reads_at_advance + 1; }));
  Decision d = controller_.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_THAT(d.reason, HasSubstr("replication_lag replica=r1:5432 "
                                  "unreadable: no reading for 2.5"));
  hung_ptr->Release();
  EXPECT_TRUE(Eventually([&] { return controller_.Check().proceed(); }));
  pacer.Stop();
}

TEST_F(PacerTest, StopInterruptsLongIntervalsAndIsIdempotent) {
  auto pacer = std::make_unique<Pacer>(&controller_, PacerOpts());
  auto lag = std::make_unique<FakeSignal>(kLag);
  FakeSignal* lag_ptr = lag.get();
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  FakeHeartbeat* beat = heartbeat.get();
  pacer->AddSignal(std::move(lag), absl::Hours(1));
  pacer->SetHeartbeat(std::move(heartbeat));
  pacer->Start(absl::Seconds(10));
  EXPECT_EQ(lag_ptr->reads(), 1);
  EXPECT_EQ(beat->beats.load(), 1);

  const auto before = std::chrono::steady_clock::now();
  pacer->Stop();
  pacer->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));
  const int beats = beat->beats.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(beat->beats.load(), beats) << "a thread outlived Stop";
  pacer.reset();  // the destructor stops again: no crash, no hang
}

TEST_F(PacerTest, HeartbeatBeatsEveryInterval) {
  PacerOptions options = PacerOpts();
  options.heartbeat_interval = absl::Milliseconds(5);
  Pacer pacer(&controller_, options);
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  FakeHeartbeat* beat = heartbeat.get();
  pacer.SetHeartbeat(std::move(heartbeat));
  pacer.Start();
  EXPECT_TRUE(Eventually([&] { return beat->beats.load() >= 10; }));
  pacer.Stop();
}

// --- ProbeLatencySignal
// -------------------------------------------------------

// A probe whose runs take scripted (fake) times, or fail.
class FakeProbe : public Probe {
 public:
  explicit FakeProbe(FakeClock* clock) : clock_(clock) {}
  absl::Status Run() override {
    clock_->Advance(cost);
    return error;
  }
  FakeClock* clock_;
  absl::Duration cost = absl::Milliseconds(1);
  absl::Status error;
};

TEST(ProbeLatencySignalTest, ReportsTheP95OfTheWindowAgainstMaxLatency) {
  FakeClock clock;
  auto probe = std::make_unique<FakeProbe>(&clock);
  FakeProbe* p = probe.get();
  ProbeLatencySignal signal(std::move(probe), absl::Milliseconds(50), &clock,
                            absl::Seconds(3));
  EXPECT_EQ(signal.name(), "probe_latency p95");

  for (int i = 0; i < 9; ++i) {
    Reading r = signal.Read();
    ASSERT_TRUE(r.ok);
    EXPECT_DOUBLE_EQ(r.value, 0.001);
    EXPECT_DOUBLE_EQ(r.threshold, 0.05);
    EXPECT_EQ(r.unit, "s");
  }
  // One slow probe among 10 is the p95 (one among 20 would not be): writes
  // pause.
  p->cost = absl::Milliseconds(200);
  Reading slow = signal.Read();
  EXPECT_DOUBLE_EQ(slow.value, 0.2);
  EXPECT_EQ(slow.Describe(signal.name()), "probe_latency p95 200ms > 50ms");

  // Once the slow sample has left the window, the p95 is fast again.
  p->cost = absl::Milliseconds(1);
  clock.Advance(absl::Seconds(3));
  Reading later = signal.Read();
  EXPECT_DOUBLE_EQ(later.value, 0.001);
}

TEST(ProbeLatencySignalTest, FailedProbeIsUnreadableWithItsError) {
  FakeClock clock;
  auto probe = std::make_unique<FakeProbe>(&clock);
  probe->error = absl::AbortedError(
      "probe query failed: canceling statement due to statement timeout");
  ProbeLatencySignal signal(std::move(probe), absl::Milliseconds(50), &clock);
  Reading r = signal.Read();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.Describe(signal.name()),
            "probe_latency p95 unreadable: probe query failed: canceling "
            "statement due to statement timeout");
  EXPECT_TRUE(std::isinf(r.Utilisation()));
}

// --- commit latency -----------------------------------------------------

std::vector<absl::Duration> Millis(std::initializer_list<double> ms) {
  std::vector<absl::Duration> out;
  for (double m : ms) out.push_back(absl::Milliseconds(m));
  return out;
}

TEST(CommitLatencyTest, RelativeLimitFromTheQuietBaseline) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 1.5;
  CommitLatency c(limit);
  EXPECT_FALSE(c.limit().has_value());
  // 30 quiet beats of 2ms, and a disk stall of three 300ms beats among
  // them: the p95 of all 30 would be 300ms, and the limit 450ms.
  std::vector<absl::Duration> quiet(30, absl::Milliseconds(2));
  for (int i = 12; i < 15; ++i) quiet[i] = absl::Milliseconds(300);
  ASSERT_TRUE(c.SetBaseline(quiet).ok());
  EXPECT_EQ(*c.baseline(), absl::Milliseconds(2));
  EXPECT_EQ(*c.limit(), absl::Milliseconds(3));
  EXPECT_EQ(c.Describe(),
            "commit latency: quiet p95 2ms over 30 writes; writes slow down "
            "as the p95 nears 3ms (1.5x the quiet p95) and pause above it");
}

TEST(CommitLatencyTest, FewBeatsAreOneGroup) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 1.5;
  CommitLatency c(limit);
  // p95 of 12 beats 0.1..1.2ms: the 12th.
  std::vector<absl::Duration> beats;
  for (int i = 1; i <= 12; ++i) beats.push_back(absl::Microseconds(100 * i));
  ASSERT_TRUE(c.SetBaseline(beats).ok());
  EXPECT_EQ(*c.baseline(), absl::Microseconds(1200));
}

TEST(CommitLatencyTest, AVeryFastDiskStillGetsHeadroom) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 1.25;
  CommitLatency c(limit);
  ASSERT_TRUE(c.SetBaseline(Millis({0.2, 0.2, 0.2, 0.2, 0.2})).ok());
  // 1.25 x 0.2ms would be 0.25ms: within a quiet p95's own noise.
  EXPECT_EQ(*c.limit(), absl::Microseconds(700));
  EXPECT_THAT(c.Describe(), HasSubstr("nears 0.7ms (the quiet p95 + 0.5ms)"));
}

TEST(CommitLatencyTest, UtilisationCountsTheExcessOverTheBaseline) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 1.5;
  CommitLatency c(limit);
  ASSERT_TRUE(c.SetBaseline(Millis({2, 2, 2, 2, 2, 2})).ok());  // limit 3ms
  const absl::Time t0 = absl::FromUnixSeconds(100);
  // At the baseline: nothing to slow down for.
  Reading r = c.Record(t0, absl::Milliseconds(2));
  EXPECT_NEAR(r.Utilisation(), 0, 1e-9);
  // Halfway between baseline and limit: 0.5, whereas the plain ratio (0.83)
  // would already be past the resume level.
  for (int i = 1; i <= 20; ++i) {
    r = c.Record(t0 + absl::Milliseconds(100 * i), absl::Microseconds(2500));
  }
  EXPECT_NEAR(r.Utilisation(), 0.5, 1e-9);
  EXPECT_EQ(r.Describe(CommitLatency::kName),
            "commit_latency p95 2.5ms < 3ms, quiet 2ms");
  // The p95 of the window: slow beats over more than 5% of it pause.
  for (int i = 21; i <= 30; ++i) {
    r = c.Record(t0 + absl::Milliseconds(100 * i), absl::Milliseconds(4));
  }
  EXPECT_GE(r.Utilisation(), 1);
  EXPECT_EQ(r.Describe(CommitLatency::kName),
            "commit_latency p95 4ms > 3ms, quiet 2ms");
}

TEST(CommitLatencyTest, AbsoluteLimitBelowTheBaselineHolds) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.max = absl::Milliseconds(1);
  CommitLatency c(limit);
  EXPECT_EQ(*c.limit(), absl::Milliseconds(1));
  ASSERT_TRUE(c.SetBaseline(Millis({3, 3, 3, 3, 3})).ok());
  Reading r = c.Record(absl::FromUnixSeconds(1), absl::Milliseconds(3));
  EXPECT_EQ(r.floor, 0);  // no room: the plain ratio
  EXPECT_GE(r.Utilisation(), 1);
  EXPECT_THAT(c.Describe(), HasSubstr("already at the limit"));
}

TEST(CommitLatencyTest, NoBaselineIsUnreadable) {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 1.5;
  CommitLatency c(limit);
  absl::Status s = c.SetBaseline(Millis({1, 1}));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  Reading r = c.Record(absl::FromUnixSeconds(1), absl::Milliseconds(1));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "no quiet baseline measured");
}

TEST_F(PacerTest, CommitLatencyMeasuresTheBaselineBeforeTheFirstChunk) {
  PacerOptions options = PacerOpts();
  options.commit_latency.enabled = true;
  options.commit_latency.factor = 1.5;
  options.commit_latency.baseline_time = absl::Milliseconds(100);
  options.commit_latency.baseline_interval = absl::Milliseconds(5);
  Pacer pacer(&controller_, options);
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  FakeHeartbeat* beat = heartbeat.get();
  beat->cost = absl::Milliseconds(2);  // each beat, by the fake clock
  pacer.SetHeartbeat(std::move(heartbeat));
  ASSERT_NE(pacer.commit_latency(), nullptr);
  pacer.Start(absl::Seconds(1));
  EXPECT_GE(beat->beats.load(), 5);
  EXPECT_EQ(*pacer.commit_latency()->baseline(), absl::Milliseconds(2));
  EXPECT_EQ(*pacer.commit_latency()->limit(), absl::Milliseconds(3));
  // The beats are the commit-latency signal now, not "heartbeat".
  EXPECT_TRUE(Eventually([&] { return controller_.Check().proceed(); }));
  std::vector<SignalStatus> signals = controller_.Signals();
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].name, "commit_latency p95");
  pacer.Stop();

  // Slow commits on the primary hold writes, and say why.
  beat->cost = absl::Milliseconds(5);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Milliseconds(100));
    pacer.PollOnce();
  }
  Decision d = controller_.Check();
  EXPECT_EQ(d.action, Decision::Action::kWait);
  EXPECT_EQ(d.reason, "commit_latency p95 5ms > 3ms, quiet 2ms");
  EXPECT_EQ(d.label, "commit_latency p95");
}

TEST_F(PacerTest, AKnownBaselineIsNotMeasuredAgain) {
  PacerOptions options = PacerOpts();
  options.commit_latency.enabled = true;
  options.commit_latency.factor = 1.5;
  options.commit_latency.baseline_time = absl::Seconds(30);
  // The previous slice's (RunReport::commit_latency_baseline).
  options.commit_latency.known_baseline = absl::Milliseconds(4);
  Pacer pacer(&controller_, options);
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  FakeHeartbeat* beat = heartbeat.get();
  beat->cost = absl::Milliseconds(2);
  pacer.SetHeartbeat(std::move(heartbeat));
  const absl::Time started = absl::Now();
  pacer.Start(absl::Seconds(1));
  // No 30s of measuring: the first beat is the run's own.
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
  EXPECT_LE(beat->beats.load(), 2);
  EXPECT_EQ(*pacer.commit_latency()->baseline(), absl::Milliseconds(4));
  EXPECT_EQ(*pacer.commit_latency()->limit(), absl::Milliseconds(6));
  EXPECT_NE(pacer.commit_latency()->Describe().find("(from an earlier run)"),
            std::string::npos)
      << pacer.commit_latency()->Describe();
  pacer.Stop();
}

TEST_F(PacerTest, CommitLatencyWithoutABaselineHoldsWrites) {
  PacerOptions options = PacerOpts();
  options.commit_latency.enabled = true;
  options.commit_latency.factor = 1.5;
  options.commit_latency.baseline_time = absl::Milliseconds(30);
  options.commit_latency.baseline_interval = absl::Milliseconds(5);
  Pacer pacer(&controller_, options);
  auto heartbeat = std::make_unique<FakeHeartbeat>(&clock_);
  heartbeat->error = absl::UnavailableError("cannot write the heartbeat");
  FakeHeartbeat* beat = heartbeat.get();
  pacer.SetHeartbeat(std::move(heartbeat));
  pacer.Start(absl::Milliseconds(50));
  EXPECT_FALSE(pacer.commit_latency()->baseline().has_value());
  beat->error = absl::OkStatus();  // the primary is back, but no baseline
  pacer.Stop();
  pacer.PollOnce();
  EXPECT_EQ(controller_.Check().reason,
            "commit_latency p95 unreadable: no quiet baseline measured");
}

// Commit-latency options at 2x a known `baseline`.
CommitLatencyLimit AtTwiceTheBaseline(absl::Duration baseline) {
  CommitLatencyLimit c;
  c.enabled = true;
  c.factor = 2;
  c.known_baseline = baseline;
  return c;
}

// Starts `pacer` with a fake heartbeat whose beats take `cost`, then stops
// its threads: the test drives it by hand (PollOnce) on the fake clock.
void StartByHand(Pacer& pacer, FakeClock* clock, absl::Duration cost) {
  auto heartbeat = std::make_unique<FakeHeartbeat>(clock);
  heartbeat->cost = cost;
  pacer.SetHeartbeat(std::move(heartbeat));
  pacer.Start(absl::Seconds(1));
  pacer.Stop();
}

TEST_F(PacerTest, AQuietRecheckHoldsWritesWhileItMeasures) {
  PacerOptions options = PacerOpts();
  options.commit_latency = AtTwiceTheBaseline(absl::Milliseconds(6));
  options.commit_latency.recheck_first = absl::Seconds(1);
  Pacer pacer(&controller_, options);
  // Quiet at 5 ms: too close to the baseline for the window's correction
  // (below 0.8 x 6 ms), so only the recheck can find it.
  StartByHand(pacer, &clock_, absl::Milliseconds(5));
  bool held = false;
  for (int i = 0; i < 60 && pacer.commit_latency()->corrections() == 0; ++i) {
    clock_.Advance(absl::Milliseconds(100));
    pacer.PollOnce();
    const Decision d = controller_.Check();
    if (!d.proceed()) {
      held = true;
      EXPECT_EQ(d.reason, "measuring the quiet commit latency");
    }
  }
  EXPECT_TRUE(held);
  EXPECT_EQ(*pacer.commit_latency()->baseline(), absl::Milliseconds(5));
  clock_.Advance(absl::Milliseconds(100));
  pacer.PollOnce();  // the hold is lifted with the next beat
  EXPECT_TRUE(controller_.Check().proceed());
}

// A hold the run cannot end by writing less: the primary's quiet beats read
// 5 ms against a 2 ms baseline (limit 4 ms). Once writes have been held a
// whole window, that window is the quiet figure and writes resume. With the
// pacer not passing the hold to CommitLatency::Record, they never would.
TEST_F(PacerTest, AHoldTheRunCannotEndRebaselinesAfterAWindow) {
  PacerOptions options = PacerOpts();
  options.commit_latency = AtTwiceTheBaseline(absl::Milliseconds(2));
  options.commit_latency.recheck_every = absl::ZeroDuration();
  Pacer pacer(&controller_, options);
  StartByHand(pacer, &clock_, absl::Milliseconds(5));
  bool held = false;
  absl::Duration elapsed;
  for (; elapsed < absl::Seconds(30); elapsed += absl::Milliseconds(100)) {
    clock_.Advance(absl::Milliseconds(100));
    pacer.PollOnce();
    const Decision d = controller_.Check();
    if (!d.proceed()) {
      held = true;
      EXPECT_EQ(d.label, "commit_latency p95") << d.reason;
    } else if (held) {
      break;
    }
  }
  EXPECT_TRUE(held);
  EXPECT_TRUE(controller_.Check().proceed());
  EXPECT_LT(elapsed, absl::Seconds(12));
  EXPECT_EQ(*pacer.commit_latency()->baseline(), absl::Milliseconds(5));
  EXPECT_EQ(pacer.commit_latency()->held_rebaselines(), 1);
}

}  // namespace
}  // namespace backfill
