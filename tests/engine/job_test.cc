// The copier loop (backfill/engine/job.cc) against an in-memory database and a
// fake clock: resumability, retries, stops and the observer protocol.

#include "backfill/engine/job.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "backfill/engine/job_lease.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fake_database.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every observer event.
class RecordingObserver : public Observer {
 public:
  struct Chunk {
    int64_t rows_walked;  // checkpoint total after the chunk
    int64_t chunks;
    int64_t next_chunk_rows;
    JobState state;
  };
  struct Retry {
    absl::StatusCode code;
    int attempt;
    absl::Duration backoff;
  };

  void OnStart(const Checkpoint& cp, const JobPlan& plan,
               bool resumed) override {
    events.push_back("start");
    start_resumed.push_back(resumed);
  }
  void OnChunk(const Progress& p) override {
    events.push_back("chunk");
    chunks.push_back({p.checkpoint->rows_walked, p.checkpoint->chunks,
                      p.next_chunk_rows, p.checkpoint->state});
  }
  void OnRetry(const absl::Status& error, int attempt,
               absl::Duration backoff) override {
    events.push_back("retry");
    retries.push_back({error.code(), attempt, backoff});
  }
  void OnFinish(const RunReport& report) override {
    events.push_back("finish");
    finishes.push_back(report.outcome);
  }
  void OnWarning(const std::string& message) override {
    warnings.push_back(message);
  }

  std::vector<std::string> events;
  std::vector<bool> start_resumed;
  std::vector<Chunk> chunks;
  std::vector<Retry> retries;
  std::vector<RunOutcome> finishes;
  std::vector<std::string> warnings;
};

class JobTest : public ::testing::Test {
 protected:
  static JobSpec Spec(const std::string& expression = "value") {
    JobSpec spec;
    spec.shape = Shape::kColumn;
    spec.table = TableName{"", "items"};
    spec.assignments = {Assignment{"copied", expression}};
    return spec;
  }

  absl::StatusOr<std::unique_ptr<Job>> Open(const JobSpec& spec,
                                            bool restart = false) {
    return Job::Open(std::make_unique<FakeDatabase>(&backend_), spec, restart);
  }

  // Fixed-size chunks of `rows` rows, fake clock, recording observer.
  RunOptions Options(int64_t rows) {
    RunOptions options;
    options.chunking.initial_rows = rows;
    options.chunking.min_rows = 1;
    options.chunking.target_chunk_time = absl::ZeroDuration();
    options.clock = &clock_;
    options.observer = &observer_;
    return options;
  }

  // Opens a job for Spec() and runs it once.
  absl::StatusOr<RunReport> OpenAndRun(const RunOptions& options) {
    absl::StatusOr<std::unique_ptr<Job>> job = Open(Spec());
    if (!job.ok()) return job.status();
    return (*job)->Run(options);
  }

  const Checkpoint& Stored() { return backend_.checkpoints.at("items"); }

  // Every row was covered by exactly one committed chunk and copied.
  void ExpectEveryRowWalkedOnce() {
    for (const auto& [key, row] : backend_.rows) {
      EXPECT_EQ(row.walks, 1) << "key " << key;
      EXPECT_EQ(row.copied, row.value) << "key " << key;
    }
  }

  FakeBackend backend_;
  FakeClock clock_;
  RecordingObserver observer_;
};

TEST_F(JobTest, FreshRunWalksEveryKeyOnceInChunks) {
  backend_.AddRange(2, 25, 2);  // sparse keys 2, 4, ..., 50
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_FALSE(report->resumed);
  EXPECT_EQ(report->rows_walked, 25);
  EXPECT_EQ(report->rows_written, 25);
  EXPECT_EQ(report->chunks, 3);
  EXPECT_EQ(report->retries, 0);
  EXPECT_EQ(backend_.run_chunk_calls, 3);
  ExpectEveryRowWalkedOnce();

  ASSERT_EQ(backend_.requests.size(), 3u);
  EXPECT_EQ(backend_.requests[0].after, std::nullopt);
  EXPECT_EQ(backend_.requests[1].after, IntKey(20));
  EXPECT_EQ(backend_.requests[2].after, IntKey(40));
  for (const ChunkRequest& r : backend_.requests) {
    EXPECT_EQ(r.job, "items");
    EXPECT_EQ(r.rows, 10);
    EXPECT_EQ(r.high_water, IntKey(50));
  }

  const Checkpoint& cp = Stored();
  EXPECT_EQ(cp.state, JobState::kDone);
  EXPECT_EQ(cp.high_water, IntKey(50));
  EXPECT_EQ(cp.last_key, IntKey(50));
  EXPECT_EQ(cp.rows_walked, 25);
  EXPECT_EQ(cp.rows_written, 25);
  EXPECT_EQ(cp.chunks, 3);
  EXPECT_EQ(cp.fingerprint, FingerprintJobSpec(Spec()));
  EXPECT_EQ(report->checkpoint.state, JobState::kDone);
  EXPECT_EQ(report->checkpoint.rows_walked, 25);
}

TEST_F(JobTest, ObserverSeesStartChunksFinish) {
  backend_.AddRange(1, 25);
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_THAT(observer_.events,
              ElementsAre("start", "chunk", "chunk", "chunk", "finish"));
  EXPECT_THAT(observer_.start_resumed, ElementsAre(false));
  ASSERT_EQ(observer_.chunks.size(), 3u);
  EXPECT_EQ(observer_.chunks[0].rows_walked, 10);
  EXPECT_EQ(observer_.chunks[1].rows_walked, 20);
  EXPECT_EQ(observer_.chunks[2].rows_walked, 25);
  EXPECT_EQ(observer_.chunks[2].chunks, 3);
  EXPECT_EQ(observer_.chunks[0].state, JobState::kRunning);
  EXPECT_EQ(observer_.chunks[2].state, JobState::kDone);
  EXPECT_EQ(observer_.chunks[0].next_chunk_rows, 10);
  EXPECT_THAT(observer_.finishes, ElementsAre(RunOutcome::kDone));
}

TEST_F(JobTest, SecondRunOfDoneJobDoesNotRunChunks) {
  backend_.AddRange(1, 25);
  ASSERT_TRUE(OpenAndRun(Options(10)).ok());
  const int calls = backend_.run_chunk_calls;

  absl::StatusOr<RunReport> again = OpenAndRun(Options(10));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, RunOutcome::kDone);
  EXPECT_EQ(again->reason, "already done");
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->chunks, 0);
  EXPECT_EQ(again->rows_walked, 0);
  EXPECT_EQ(backend_.run_chunk_calls, calls);
  EXPECT_EQ(Stored().state, JobState::kDone);
  EXPECT_EQ(Stored().rows_walked, 25);
}

TEST_F(JobTest, ResumeAfterMaxChunksContinuesFromLastKey) {
  backend_.AddRange(1, 45);
  RunOptions options = Options(10);
  options.max_chunks = 2;
  absl::StatusOr<RunReport> first = OpenAndRun(options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(first->chunks, 2);
  EXPECT_EQ(Stored().state, JobState::kStopped);
  EXPECT_EQ(Stored().last_key, IntKey(20));
  EXPECT_EQ(Stored().rows_walked, 20);

  // Rows inserted after the job started are beyond its high-water mark.
  backend_.AddRows({100, 101});
  absl::StatusOr<RunReport> second = OpenAndRun(Options(10));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->outcome, RunOutcome::kDone);
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->rows_walked, 25);
  EXPECT_EQ(second->chunks, 3);
  ASSERT_EQ(backend_.requests.size(), 5u);
  EXPECT_EQ(backend_.requests[2].after, IntKey(20));
  EXPECT_EQ(backend_.requests[2].high_water, IntKey(45));
  EXPECT_EQ(Stored().state, JobState::kDone);
  EXPECT_EQ(Stored().rows_walked, 45);
  EXPECT_EQ(Stored().chunks, 5);
  EXPECT_EQ(backend_.rows.at(100).walks, 0);
  EXPECT_EQ(backend_.rows.at(101).walks, 0);
  backend_.rows.erase(100);
  backend_.rows.erase(101);
  ExpectEveryRowWalkedOnce();
  EXPECT_THAT(observer_.start_resumed, ElementsAre(false, true));
}

TEST_F(JobTest, ChangedSpecIsRefusedAtOpenUnlessRestart) {
  backend_.AddRange(1, 30);
  RunOptions options = Options(10);
  options.max_chunks = 1;
  ASSERT_TRUE(OpenAndRun(options).ok());
  const std::string old_fingerprint = Stored().fingerprint;

  absl::StatusOr<std::unique_ptr<Job>> changed = Open(Spec("value + 1"));
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(changed.status().message(), HasSubstr("`restart`"));
  EXPECT_EQ(backend_.run_chunk_calls, 1);

  absl::StatusOr<std::unique_ptr<Job>> restarted =
      Open(Spec("value + 1"), true);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  RunOptions again = Options(10);
  again.restart = true;
  absl::StatusOr<RunReport> report = (*restarted)->Run(again);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_FALSE(report->resumed);
  ASSERT_EQ(backend_.requests.size(), 4u);
  EXPECT_EQ(backend_.requests[1].after, std::nullopt);  // started over
  EXPECT_NE(Stored().fingerprint, old_fingerprint);
  EXPECT_EQ(Stored().fingerprint, FingerprintJobSpec(Spec("value + 1")));
  EXPECT_EQ(Stored().rows_walked, 30);
  EXPECT_EQ(Stored().chunks, 3);
}

TEST_F(JobTest, InvalidSpecFailsBeforePrepare) {
  JobSpec spec = Spec();
  spec.assignments.clear();
  absl::StatusOr<std::unique_ptr<Job>> job = Open(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_.prepare_calls, 0);
}

TEST_F(JobTest, PrepareErrorIsReturnedByOpen) {
  backend_.prepare_error =
      absl::NotFoundError("relation \"items\" does not exist");
  absl::StatusOr<std::unique_ptr<Job>> job = Open(Spec());
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(backend_.checkpoints.empty());
}

// A holder string for this very process but another run of it: alive.
std::string LiveHolderHere() {
  std::string self = SelfHolder();
  return self.substr(0, self.rfind(" run=")) + " run=999999";
}

// This machine's holder string with a pid that no process has: dead.
std::string DeadHolderHere() {
  std::string self = SelfHolder();
  const size_t pid = self.find(" pid=");
  const size_t end = self.find(' ', pid + 1);
  return self.substr(0, pid) + " pid=2147483646" + self.substr(end);
}

TEST_F(JobTest, JobLeasedByALiveRunWritesNothing) {
  backend_.AddRange(1, 5);
  for (const std::string& other :
       {std::string("host=elsewhere pid=12 start=3 boot=b pidns=1 run=1"),
        LiveHolderHere()}) {
    backend_.lease_holder = other;
    absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(report.status().message(), HasSubstr("already running"));
    EXPECT_THAT(report.status().message(), HasSubstr("expires in 20s"));
    EXPECT_EQ(backend_.run_chunk_calls, 0);
    EXPECT_TRUE(backend_.checkpoints.empty());
    EXPECT_EQ(backend_.lease_holder, other);  // not released by the loser
  }
  EXPECT_THAT(DescribeHolder("host=elsewhere pid=12 start=3 boot=b pidns=1"),
              "elsewhere pid 12");
}

TEST_F(JobTest, LeaseOfADeadRunOnThisMachineIsTakenOverAtOnce) {
  backend_.AddRange(1, 25);
  backend_.lease_holder = DeadHolderHere();  // a kill -9 left it behind
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(backend_.lock_calls, 2);  // found the dead holder, then took it
  ExpectEveryRowWalkedOnce();
  EXPECT_EQ(backend_.lease_holder, "");  // released at the end
}

TEST_F(JobTest, ExpiredLeaseIsTakenOver) {
  backend_.AddRange(1, 25);
  backend_.lease_holder = "host=elsewhere pid=12 start=3 boot=b pidns=1 run=1";
  backend_.lease_expired = true;
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(backend_.lock_calls, 1);
  ExpectEveryRowWalkedOnce();
}

TEST_F(JobTest, LeaseTakenOverMidRunStopsWithoutWritingOverTheNewHolder) {
  backend_.AddRange(1, 50);
  const std::string thief =
      "host=elsewhere pid=12 start=3 boot=b pidns=1 run=1";
  Checkpoint thief_checkpoint;
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) {
      // This run stalled past its lease; another took the job over.
      backend_.lease_holder = thief;
      thief_checkpoint = Stored();
    }
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend_.committed_chunks, 2);
  // The failed state was not recorded over the new holder's checkpoint, and
  // its lease was not released.
  EXPECT_EQ(Stored().state, thief_checkpoint.state);
  EXPECT_EQ(Stored().last_key, IntKey(20));
  EXPECT_EQ(backend_.lease_holder, thief);
}

TEST(JobLeaseTest, HolderIsDeadOnlyWhenItsProcessIsProvablyGone) {
  const std::string self = "host=h pid=1 start=5 boot=B pidns=7 run=1";
  auto start_of = [](int pid) -> std::optional<std::string> {
    if (pid == 42) return std::string("100");
    return std::nullopt;
  };
  // Same machine: gone, or its pid reused by a later process.
  EXPECT_TRUE(HolderIsDeadHere("host=h pid=43 start=100 boot=B pidns=7 run=1",
                               self, start_of));
  EXPECT_TRUE(HolderIsDeadHere("host=h pid=42 start=99 boot=B pidns=7 run=1",
                               self, start_of));
  EXPECT_FALSE(HolderIsDeadHere("host=h pid=42 start=100 boot=B pidns=7 run=9",
                                self, start_of));
  // Another host, boot, pid namespace, or a holder of unknown form: only
  // its lease's expiry tells.
  for (const char* other : {"host=g pid=43 start=100 boot=B pidns=7",
                            "host=h pid=43 start=100 "
                            "boot=C pidns=7",
                            "host=h pid=43 start=100 boot=B pidns=8",
                            "host=h pid=43 boot=B pidns=7", "somebody", ""}) {
    EXPECT_FALSE(HolderIsDeadHere(other, self, start_of)) << other;
  }
}

TEST(JobLeaseTest, SelfHolderIsUniquePerRunAndAliveHere) {
  const std::string a = SelfHolder(), b = SelfHolder();
  EXPECT_NE(a, b);
  EXPECT_FALSE(HolderIsDeadHere(a, b, ProcStartTime()));
  EXPECT_TRUE(HolderIsDeadHere(DeadHolderHere(), a, ProcStartTime()));
}

TEST_F(JobTest, FailoverToAServerWithAnOlderCheckpointRedoesTheLostChunks) {
  backend_.AddRange(1, 50);
  Checkpoint after_one;
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 1) after_one = Stored();
    // The primary dies right after chunk 3; its replica had only chunk 1.
    if (committed == 3) {
      backend_.fail_run_chunk = 1;
      backend_.run_chunk_error = absl::UnavailableError("server closed");
    }
  };
  backend_.on_reconnect = [&] {
    backend_.on_reconnect = nullptr;
    backend_.checkpoints["items"] = after_one;
    for (auto& [key, row] : backend_.rows) {
      if (key > 10) row.copied.reset();  // lost with their checkpoint
    }
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  for (const auto& [key, row] : backend_.rows) {
    EXPECT_EQ(row.copied, row.value) << key;
    EXPECT_EQ(row.walks, key > 10 && key <= 30 ? 2 : 1) << key;
  }
  EXPECT_EQ(Stored().rows_walked, 50);
  EXPECT_EQ(Stored().chunks, 5);
  EXPECT_EQ(report->chunks, 5);
  EXPECT_EQ(report->rows_walked, 50);
  ASSERT_EQ(observer_.warnings.size(), 1u);
  EXPECT_THAT(observer_.warnings[0], HasSubstr("2 chunks behind"));
}

TEST_F(JobTest, FailoverToAServerWithoutTheCheckpointStartsOver) {
  backend_.AddRange(1, 30);
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) {
      backend_.fail_run_chunk = 1;
      backend_.run_chunk_error = absl::UnavailableError("server closed");
    }
  };
  backend_.on_reconnect = [&] {
    backend_.on_reconnect = nullptr;
    backend_.checkpoints.clear();
    for (auto& [key, row] : backend_.rows) row.copied.reset();
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  for (const auto& [key, row] : backend_.rows) {
    EXPECT_EQ(row.copied, row.value) << key;
  }
  EXPECT_EQ(Stored().rows_walked, 30);
  EXPECT_EQ(Stored().chunks, 3);
  ASSERT_EQ(observer_.warnings.size(), 1u);
  EXPECT_THAT(observer_.warnings[0], HasSubstr("from the start"));
}

TEST_F(JobTest, CancelMidRunStopsAfterCommittedChunk) {
  backend_.AddRange(1, 50);
  CancellationToken cancel;
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) cancel.Cancel();
  };
  RunOptions options = Options(10);
  options.cancel = &cancel;
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kStopped);
  EXPECT_EQ(report->chunks, 2);
  EXPECT_EQ(backend_.run_chunk_calls, 2);
  EXPECT_EQ(Stored().state, JobState::kStopped);
  EXPECT_EQ(Stored().last_key, IntKey(20));
  EXPECT_EQ(Stored().rows_walked, 20);
  EXPECT_FALSE(Stored().message.empty());
}

TEST_F(JobTest, PauseFlagSeenByChunkPausesRun) {
  backend_.AddRange(1, 50);
  // Another shell runs `backfill pause` while chunk 1 is committing; chunk 2
  // reads the flag in its transaction.
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 1) backend_.RequestPause("items");
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kPaused);
  EXPECT_EQ(report->chunks, 2);
  EXPECT_EQ(Stored().state, JobState::kPaused);
  EXPECT_TRUE(Stored().pause_requested);
  EXPECT_EQ(Stored().rows_walked, 20);
  EXPECT_THAT(observer_.finishes, ElementsAre(RunOutcome::kPaused));
}

TEST_F(JobTest, PausedCheckpointReturnsPausedWithoutChunks) {
  backend_.AddRange(1, 50);
  RunOptions options = Options(10);
  options.max_chunks = 1;
  ASSERT_TRUE(OpenAndRun(options).ok());
  backend_.RequestPause("items");

  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kPaused);
  EXPECT_THAT(report->reason, HasSubstr("resume"));
  EXPECT_EQ(report->chunks, 0);
  EXPECT_EQ(backend_.run_chunk_calls, 1);

  // After `backfill resume` the same command continues.
  backend_.RequestPause("items", false);
  absl::StatusOr<RunReport> resumed = OpenAndRun(Options(10));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->outcome, RunOutcome::kDone);
  EXPECT_EQ(resumed->rows_walked, 40);
  ExpectEveryRowWalkedOnce();
}

TEST_F(JobTest, AbortedChunkIsRetriedSmaller) {
  backend_.AddRange(1, 30);
  backend_.fail_run_chunk = 2;
  backend_.run_chunk_error = absl::AbortedError("deadlock detected");
  absl::StatusOr<RunReport> report = OpenAndRun(Options(8));
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(report->retries, 2);
  EXPECT_EQ(report->rows_walked, 30);
  ASSERT_GE(backend_.requests.size(), 4u);
  EXPECT_EQ(backend_.requests[0].rows, 8);
  EXPECT_EQ(backend_.requests[1].rows, 4);
  EXPECT_EQ(backend_.requests[2].rows, 2);  // this one commits
  EXPECT_EQ(backend_.requests[0].after, std::nullopt);
  EXPECT_EQ(backend_.requests[2].after, std::nullopt);
  // Fixed-size chunking returns to its size once a chunk succeeds.
  EXPECT_EQ(backend_.requests[3].rows, 8);
  EXPECT_EQ(backend_.requests[3].after, IntKey(2));
  ExpectEveryRowWalkedOnce();

  ASSERT_EQ(observer_.retries.size(), 2u);
  EXPECT_EQ(observer_.retries[0].code, absl::StatusCode::kAborted);
  EXPECT_EQ(observer_.retries[0].attempt, 1);
  EXPECT_EQ(observer_.retries[1].attempt, 2);
  EXPECT_GT(observer_.retries[0].backoff, absl::ZeroDuration());
  EXPECT_EQ(clock_.slept(),
            observer_.retries[0].backoff + observer_.retries[1].backoff);
  EXPECT_EQ(backend_.reconnect_calls, 0);
}

TEST_F(JobTest, AbortedChunkFailsAfterMaxAttempts) {
  backend_.AddRange(1, 30);
  RunOptions first = Options(10);
  first.max_chunks = 1;
  ASSERT_TRUE(OpenAndRun(first).ok());

  backend_.fail_run_chunk = 1000;
  backend_.run_chunk_error = absl::AbortedError("lock timeout");
  RunOptions options = Options(10);
  options.max_attempts = 3;
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(backend_.run_chunk_calls, 1 + 3);
  EXPECT_EQ(observer_.retries.size(), 2u);
  EXPECT_EQ(Stored().state, JobState::kFailed);
  EXPECT_THAT(Stored().message, HasSubstr("lock timeout"));
  // The committed progress is intact.
  EXPECT_EQ(Stored().last_key, IntKey(10));
  EXPECT_EQ(Stored().rows_walked, 10);
}

TEST_F(JobTest, NonRetryableErrorFailsAtOnce) {
  backend_.AddRange(1, 30);
  backend_.fail_run_chunk = 1;
  backend_.run_chunk_error = absl::InvalidArgumentError("division by zero");
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_.run_chunk_calls, 1);
  EXPECT_TRUE(observer_.retries.empty());
  EXPECT_EQ(Stored().state, JobState::kFailed);
  EXPECT_EQ(Stored().message, "division by zero");
}

TEST_F(JobTest, UnavailableReconnectsAndRetries) {
  backend_.AddRange(1, 30);
  backend_.fail_run_chunk = 1;
  backend_.run_chunk_error = absl::UnavailableError("terminating connection");
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(backend_.reconnect_calls, 1);
  EXPECT_EQ(backend_.lock_calls, 2);  // the lease is taken again
  EXPECT_EQ(report->retries, 1);
  EXPECT_EQ(report->rows_walked, 30);
  ASSERT_EQ(observer_.retries.size(), 1u);
  EXPECT_EQ(observer_.retries[0].code, absl::StatusCode::kUnavailable);
  ExpectEveryRowWalkedOnce();
  EXPECT_EQ(Stored().rows_walked, 30);
}

TEST_F(JobTest, LostAckAfterCommitNeitherRepeatsNorSkipsNorDoubleCounts) {
  backend_.AddRange(1, 30);
  // The second chunk commits, then the connection drops before the reply.
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) backend_.lose_ack = 1;
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(backend_.reconnect_calls, 1);
  ASSERT_EQ(backend_.requests.size(), 3u);
  EXPECT_EQ(backend_.requests[1].after, IntKey(10));
  EXPECT_EQ(backend_.requests[2].after,
            IntKey(20));  // from the reloaded checkpoint
  ExpectEveryRowWalkedOnce();
  EXPECT_EQ(Stored().rows_walked, 30);
  EXPECT_EQ(Stored().rows_written, 30);
  EXPECT_EQ(Stored().chunks, 3);
  EXPECT_EQ(Stored().state, JobState::kDone);
  // The report counts the chunk whose acknowledgement was lost, once.
  EXPECT_EQ(report->rows_walked, 30);
  EXPECT_EQ(report->rows_written, 30);
  EXPECT_EQ(report->chunks, 3);
}

TEST_F(JobTest, LostAckOnLastChunkEndsDone) {
  backend_.AddRange(1, 20);
  backend_.after_commit = [&](int64_t committed) {
    if (committed == 2) backend_.lose_ack = 1;
  };
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(backend_.run_chunk_calls, 2);
  EXPECT_EQ(report->checkpoint.state, JobState::kDone);
  EXPECT_EQ(report->rows_walked, 20);
  ExpectEveryRowWalkedOnce();
}

TEST_F(JobTest, UnavailableGivesUpAfterRetryFor) {
  backend_.AddRange(1, 30);
  backend_.fail_run_chunk = 1000000;
  backend_.run_chunk_error = absl::UnavailableError("could not connect");
  RunOptions options = Options(10);
  options.retry_for = absl::Seconds(30);
  const absl::Time start = clock_.Now();
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnavailable);
  const absl::Duration waited = clock_.Now() - start;
  EXPECT_GE(waited, absl::Seconds(30));
  EXPECT_LT(waited,
            absl::Seconds(30) + absl::Seconds(6));  // one capped backoff
  EXPECT_GE(backend_.reconnect_calls, 6);
  EXPECT_EQ(backend_.reconnect_calls,
            static_cast<int>(observer_.retries.size()));
  EXPECT_EQ(Stored().rows_walked, 0);
}

TEST_F(JobTest, FailingReconnectKeepsRetrying) {
  backend_.AddRange(1, 30);
  backend_.fail_run_chunk = 1;
  backend_.run_chunk_error = absl::UnavailableError("connection reset");
  backend_.fail_reconnect = 3;
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(backend_.reconnect_calls, 4);
  ExpectEveryRowWalkedOnce();
}

TEST_F(JobTest, MaxDurationEndsSlice) {
  backend_.AddRange(1, 100);
  backend_.clock = &clock_;
  backend_.per_row_cost = absl::Milliseconds(10);  // 100ms per 10-row chunk
  RunOptions options = Options(10);
  options.max_duration = absl::Milliseconds(250);
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(report->chunks, 3);  // starts at 0, 100ms, 200ms; stops at 300ms
  EXPECT_EQ(report->elapsed, absl::Milliseconds(300));
  EXPECT_EQ(Stored().state, JobState::kStopped);
  EXPECT_EQ(Stored().last_key, IntKey(30));
}

// Opening (lock, checkpoint) can take a slice's whole budget on a busy
// server: the slice still does a chunk, so slices back to back progress.
TEST_F(JobTest, ASliceSpentOpeningStillRunsOneChunk) {
  backend_.AddRange(1, 100);
  backend_.clock = &clock_;
  RunOptions options = Options(10);
  options.max_duration = absl::ZeroDuration();
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(report->chunks, 1);
  EXPECT_EQ(Stored().last_key, IntKey(10));
}

TEST_F(JobTest, AdaptiveChunksGrowTowardTarget) {
  backend_.AddRange(1, 5000);
  backend_.clock = &clock_;
  backend_.per_row_cost = absl::Milliseconds(1);
  RunOptions options = Options(10);
  options.chunking.target_chunk_time = absl::Milliseconds(100);
  absl::StatusOr<RunReport> report = OpenAndRun(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  ASSERT_GE(backend_.requests.size(), 8u);
  EXPECT_EQ(backend_.requests[0].rows, 10);
  EXPECT_EQ(backend_.requests[1].rows, 15);
  for (size_t i = 1; i < backend_.requests.size(); ++i) {
    EXPECT_LE(backend_.requests[i].rows, 100);  // 100ms at 1ms per row
  }
  EXPECT_EQ(backend_.requests.back().rows, 100);
  ExpectEveryRowWalkedOnce();
}

TEST_F(JobTest, EmptyTableIsDoneImmediately) {
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_EQ(report->chunks, 0);
  EXPECT_EQ(backend_.run_chunk_calls, 0);
  EXPECT_EQ(Stored().state, JobState::kDone);
  EXPECT_EQ(Stored().high_water, std::nullopt);
  EXPECT_DOUBLE_EQ(Stored().progress(), 1.0);
  EXPECT_THAT(observer_.events, ElementsAre("start", "finish"));
}

TEST_F(JobTest, HighWaterErrorIsReturned) {
  backend_.AddRange(1, 10);
  backend_.high_water_error = absl::PermissionDeniedError("permission denied");
  absl::StatusOr<RunReport> report = OpenAndRun(Options(10));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(backend_.run_chunk_calls, 0);
}

TEST(RunOutcomeNameTest, Names) {
  EXPECT_EQ(RunOutcomeName(RunOutcome::kDone), "done");
  EXPECT_EQ(RunOutcomeName(RunOutcome::kStopped), "stopped");
  EXPECT_EQ(RunOutcomeName(RunOutcome::kPaused), "paused");
  EXPECT_EQ(RunOutcomeName(RunOutcome::kSliceEnd), "slice_end");
}

}  // namespace
}  // namespace backfill
