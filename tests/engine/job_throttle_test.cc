// The copier loop with RunOptions::throttle (backfill/engine/job.cc) against
// the in-memory database and a fake clock: writes stop while the controller
// holds them, resume after, and the run still stops on critical readings,
// cancellation, the pause flag and slice limits while it waits.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "backfill/engine/job.h"
#include "backfill/throttle/controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fake_database.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;

constexpr char kLag[] = "replication_lag replica=r1:5432";

Reading Lag(double seconds, double critical = 0) {
  return Reading::Ok(seconds, 1.0, "s", critical);
}

// Runs a hook on every SleepFor: the copier's waits on the controller are
// the moments when the poller thread would deliver new readings.
class ScriptedClock : public FakeClock {
 public:
  void SleepFor(absl::Duration d) override {
    FakeClock::SleepFor(d);
    ++sleeps;
    if (on_sleep) on_sleep(sleeps);
  }
  int sleeps = 0;
  std::function<void(int sleeps)> on_sleep;
};

class ThrottleEvents : public Observer {
 public:
  void OnThrottle(const Decision& d) override {
    events.push_back(d.proceed() ? "off" : "on: " + d.reason);
  }
  std::vector<std::string> events;
};

class JobThrottleTest : public ::testing::Test {
 protected:
  JobThrottleTest() : controller_(ThrottleOptionsFor(&clock_)) {
    backend_.AddRange(1, 100);  // keys 1..100
    controller_.Update(kLag, Lag(0.1));
  }

  static ThrottleOptions ThrottleOptionsFor(Clock* clock) {
    ThrottleOptions o;
    o.clock = clock;
    o.staleness_limit = absl::InfiniteDuration();  // readings are scripted
    return o;
  }

  RunOptions Options() {
    RunOptions options;
    options.chunking.initial_rows = 10;
    options.chunking.min_rows = 1;
    options.chunking.target_chunk_time = absl::ZeroDuration();
    options.clock = &clock_;
    options.observer = &observer_;
    options.throttle = &controller_;
    return options;
  }

  absl::StatusOr<RunReport> Run(const RunOptions& options) {
    JobSpec spec;
    spec.shape = Shape::kColumn;
    spec.table = TableName{"", "items"};
    spec.assignments = {Assignment{"copied", "value"}};
    absl::StatusOr<std::unique_ptr<Job>> job =
        Job::Open(std::make_unique<FakeDatabase>(&backend_), spec, false);
    if (!job.ok()) return job.status();
    return (*job)->Run(options);
  }

  const Checkpoint& Stored() { return backend_.checkpoints.at("items"); }

  FakeBackend backend_;
  ScriptedClock clock_;
  ThrottleController controller_;
  ThrottleEvents observer_;
};

TEST_F(JobThrottleTest, WritesStopWhileLagIsOverAndResumeBelowTheResumeLevel) {
  // After the 3rd chunk the replica falls 2s behind; it recovers to 0.9s
  // (still in the hysteresis band) after 5 waits and to 0.5s after 10.
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 3) controller_.Update(kLag, Lag(2.0));
  };
  std::vector<int64_t> committed_while_held;
  std::vector<std::string> messages_while_held;
  clock_.on_sleep = [&](int sleeps) {
    committed_while_held.push_back(backend_.committed_chunks);
    messages_while_held.push_back(Stored().message);
    if (sleeps == 5) controller_.Update(kLag, Lag(0.9));
    if (sleeps == 10) controller_.Update(kLag, Lag(0.5));
  };

  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(report->chunks, 10);
  EXPECT_EQ(clock_.sleeps, 10);
  EXPECT_THAT(committed_while_held, Each(3));
  EXPECT_EQ(messages_while_held.front(),
            "throttled: replication_lag replica=r1:5432 2s > 1s");
  EXPECT_EQ(report->throttled, absl::Milliseconds(1000));
  EXPECT_EQ(report->checkpoint.message, "");
  EXPECT_THAT(
      observer_.events,
      ElementsAre("on: replication_lag replica=r1:5432 2s > 1s", "off"));
  for (const auto& [key, row] : backend_.rows) EXPECT_EQ(row.walks, 1);
}

TEST_F(JobThrottleTest, UnreadableSignalHoldsWritesFromTheStart) {
  controller_.Update(kLag, Reading::Unreadable("connection refused"));
  clock_.on_sleep = [&](int sleeps) {
    EXPECT_EQ(backend_.committed_chunks, 0);
    if (sleeps == 3) controller_.Update(kLag, Lag(0.1));
  };
  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_THAT(observer_.events,
              ElementsAre("on: replication_lag replica=r1:5432 unreadable: "
                          "connection refused",
                          "off"));
}

TEST_F(JobThrottleTest, CriticalLagCheckpointsAndStops) {
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 4) controller_.Update(kLag, Lag(12, /*critical=*/10));
  };
  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kCritical);
  EXPECT_EQ(RunOutcomeName(report->outcome), "critical");
  EXPECT_EQ(report->reason,
            "critical: replication_lag replica=r1:5432 12s > 10s");
  EXPECT_EQ(backend_.committed_chunks, 4);
  const Checkpoint& cp = Stored();
  EXPECT_EQ(cp.state, JobState::kStopped);
  EXPECT_EQ(cp.message, "critical: replication_lag replica=r1:5432 12s > 10s");
  EXPECT_EQ(cp.chunks, 4);
  EXPECT_EQ(cp.last_key, IntKey(40));

  // Resumable: once the lag is back, the next run finishes the walk.
  controller_.Update(kLag, Lag(0.1));
  absl::StatusOr<RunReport> again = Run(Options());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, RunOutcome::kDone);
  EXPECT_EQ(again->chunks, 6);
  for (const auto& [key, row] : backend_.rows) EXPECT_EQ(row.walks, 1);
}

TEST_F(JobThrottleTest, CancellationStopsAWait) {
  CancellationToken cancel;
  controller_.Update(kLag, Lag(5));
  clock_.on_sleep = [&](int sleeps) {
    if (sleeps == 3) cancel.Cancel();
  };
  RunOptions options = Options();
  options.cancel = &cancel;
  absl::StatusOr<RunReport> report = Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kStopped);
  EXPECT_EQ(backend_.committed_chunks, 0);
  EXPECT_EQ(Stored().state, JobState::kStopped);
  EXPECT_EQ(Stored().message, "stopped by signal");
}

TEST_F(JobThrottleTest, OperatorPauseIsNoticedWhileThrottled) {
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) controller_.Update(kLag, Lag(5));
  };
  clock_.on_sleep = [&](int sleeps) {
    if (sleeps == 4) backend_.RequestPause("items");
  };
  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kPaused);
  EXPECT_EQ(backend_.committed_chunks, 2);
  EXPECT_EQ(Stored().state, JobState::kPaused);
  // The flag is read about once a second of waiting.
  EXPECT_LE(clock_.sleeps, 4 + 11);
}

TEST_F(JobThrottleTest, LeaseIsRenewedWhileWritesAreHeld) {
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) controller_.Update(kLag, Lag(5));
  };
  // 40s of waiting (100ms per wait), then the lag recovers.
  clock_.on_sleep = [&](int sleeps) {
    if (sleeps == 400) controller_.Update(kLag, Lag(0.1));
  };
  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  // A 30s lease renewed every 10s of waiting: it never lapses.
  EXPECT_GE(backend_.renew_calls, 3);
  EXPECT_LE(backend_.renew_calls, 5);
}

TEST_F(JobThrottleTest, LeaseTakenOverWhileWritesAreHeldEndsTheRun) {
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) controller_.Update(kLag, Lag(5));
  };
  clock_.on_sleep = [&](int sleeps) {
    if (sleeps == 50) backend_.lease_holder = "host=other pid=1 start=1";
    if (sleeps == 400) controller_.Update(kLag, Lag(0.1));
  };
  absl::StatusOr<RunReport> report = Run(Options());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend_.committed_chunks, 2);
  EXPECT_LT(clock_.sleeps, 400);  // noticed at the next renewal, not later
  EXPECT_EQ(backend_.lease_holder, "host=other pid=1 start=1");
}

TEST_F(JobThrottleTest, SliceDeadlineEndsAWait) {
  controller_.Update(kLag, Lag(5));
  RunOptions options = Options();
  options.max_duration = absl::Seconds(2);
  absl::StatusOr<RunReport> report = Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(report->elapsed, absl::Seconds(2));
  EXPECT_EQ(backend_.committed_chunks, 0);
}

// A slice spent opening still writes a chunk, but not past a hold: one
// wait step, then the slice ends.
TEST_F(JobThrottleTest, AnEmptySliceWhileHeldEndsAfterOneWaitStep) {
  controller_.Update(kLag, Lag(5));
  RunOptions options = Options();
  options.max_duration = absl::ZeroDuration();
  absl::StatusOr<RunReport> report = Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(report->elapsed, absl::Milliseconds(100));
  EXPECT_EQ(backend_.committed_chunks, 0);
}

TEST_F(JobThrottleTest, RowsPerSecondCapPacesChunks) {
  ThrottleOptions o = ThrottleOptionsFor(&clock_);
  o.max_rows_per_second = 50;  // bucket of 50 rows, starts full
  ThrottleController capped(o);
  RunOptions options = Options();
  options.throttle = &capped;
  absl::StatusOr<RunReport> report = Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  // Chunks of at most a tenth of a second of the rate (5 rows), evenly
  // spread, rather than the sizer's 10 in bursts.
  EXPECT_EQ(report->chunks, 20);
  for (const ChunkRequest& r : backend_.requests) EXPECT_LE(r.rows, 5);
  // 100 rows at 50 rows/s, the first 50 from the full bucket: 1s of waits.
  EXPECT_EQ(report->elapsed, absl::Seconds(1));
  EXPECT_TRUE(observer_.events.empty()) << "rate waits are not throttle events";
}

TEST_F(JobThrottleTest, LockTimeoutReachesEveryChunk) {
  RunOptions options = Options();
  options.lock_timeout = absl::Milliseconds(750);
  ASSERT_TRUE(Run(options).ok());
  ASSERT_FALSE(backend_.requests.empty());
  for (const ChunkRequest& r : backend_.requests) {
    EXPECT_EQ(r.lock_timeout, absl::Milliseconds(750));
  }
}

TEST_F(JobThrottleTest, WithoutAThrottleNothingWaits) {
  RunOptions options = Options();
  options.throttle = nullptr;
  controller_.Update(kLag, Lag(5));  // ignored: not passed to the run
  absl::StatusOr<RunReport> report = Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(clock_.sleeps, 0);
  EXPECT_EQ(report->throttled, absl::ZeroDuration());
}

}  // namespace
}  // namespace backfill
