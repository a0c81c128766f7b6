#include "backfill/metrics/run_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "backfill/throttle/controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Checkpoint MakeCheckpoint(int64_t walked, int64_t written, int64_t chunks) {
  Checkpoint cp;
  cp.job = "users";
  cp.rows_estimate = 1000;
  cp.rows_walked = walked;
  cp.rows_written = written;
  cp.chunks = chunks;
  return cp;
}

Progress MakeProgress(const Checkpoint* cp, absl::Duration chunk_time) {
  Progress p;
  p.checkpoint = cp;
  p.next_chunk_rows = 150;
  p.last_chunk_time = chunk_time;
  p.rows_per_second = 100;
  p.eta = absl::Seconds(7);
  return p;
}

TEST(RunMetricsTest, EverySeriesIsLabelledWithTheJob) {
  RunMetrics metrics("users");
  const std::string text = metrics.Render();
  for (const char* name :
       {"backfill_rows_total", "backfill_chunks_total",
        "backfill_chunk_duration_seconds", "backfill_chunk_rows",
        "backfill_progress_ratio", "backfill_eta_seconds", "backfill_throttled",
        "backfill_retries_total"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + name)) << name;
  }
  size_t samples = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    EXPECT_THAT(std::string(line), HasSubstr("job=\"users\"")) << line;
  }
  EXPECT_GT(samples, 5u);
  EXPECT_THAT(text, HasSubstr("backfill_eta_seconds{job=\"users\"} Nan"));
  EXPECT_THAT(text, HasSubstr("backfill_throttled{job=\"users\"} 0"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "backfill_retries_total{job=\"users\",reason=\"lock_conflict\"} 0"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "backfill_chunks_total{job=\"users\",outcome=\"rolled_back\"} 0"));
  // Without a throttle controller the per-signal series are absent.
  EXPECT_THAT(text, Not(HasSubstr("backfill_replication_lag_seconds")));
}

TEST(RunMetricsTest, CountsThisRunFromTheCheckpointDeltas) {
  RunMetrics metrics("users");
  Checkpoint cp = MakeCheckpoint(400, 300, 4);  // a resumed job
  metrics.OnStart(cp, JobPlan{}, /*resumed=*/true);
  cp = MakeCheckpoint(500, 380, 5);
  metrics.OnChunk(MakeProgress(&cp, absl::Milliseconds(30)));
  cp = MakeCheckpoint(650, 380, 6);
  metrics.OnChunk(MakeProgress(&cp, absl::Milliseconds(300)));
  const std::string text = metrics.Render();
  EXPECT_THAT(
      text,
      HasSubstr("backfill_rows_total{job=\"users\",kind=\"walked\"} 250"));
  EXPECT_THAT(
      text,
      HasSubstr("backfill_rows_total{job=\"users\",kind=\"written\"} 80"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "backfill_chunks_total{job=\"users\",outcome=\"committed\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr("backfill_chunk_duration_seconds_count{job=\"users\"} 2"));
  EXPECT_THAT(text, HasSubstr("backfill_chunk_duration_seconds_bucket{job="
                              "\"users\",le=\"0.05\"} 1"));
  EXPECT_THAT(text, HasSubstr("backfill_chunk_duration_seconds_bucket{job="
                              "\"users\",le=\"0.5\"} 2"));
  EXPECT_THAT(text, HasSubstr("backfill_chunk_rows{job=\"users\"} 150"));
  EXPECT_THAT(text, HasSubstr("backfill_progress_ratio{job=\"users\"} 0.65"));
  EXPECT_THAT(text, HasSubstr("backfill_eta_seconds{job=\"users\"} 7"));
}

TEST(RunMetricsTest, RetriesCountByReasonAndOutcome) {
  RunMetrics metrics("users");
  metrics.OnRetry(absl::AbortedError("deadlock detected"), 1,
                  absl::Milliseconds(100));
  metrics.OnRetry(absl::AbortedError("lock timeout"), 2,
                  absl::Milliseconds(200));
  metrics.OnRetry(absl::UnavailableError("server closed the connection"), 1,
                  absl::Milliseconds(100));
  const std::string text = metrics.Render();
  EXPECT_THAT(
      text,
      HasSubstr(
          "backfill_retries_total{job=\"users\",reason=\"lock_conflict\"} 2"));
  EXPECT_THAT(text, HasSubstr("backfill_retries_total{job=\"users\",reason="
                              "\"connection_lost\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "backfill_chunks_total{job=\"users\",outcome=\"rolled_back\"} 2"));
  EXPECT_THAT(text, HasSubstr("backfill_chunks_total{job=\"users\",outcome="
                              "\"connection_lost\"} 1"));
}

TEST(RunMetricsTest, DoneSetsEtaToZeroAndProgressToOne) {
  RunMetrics metrics("users");
  RunReport report;
  report.outcome = RunOutcome::kDone;
  report.checkpoint = MakeCheckpoint(1000, 1000, 10);
  report.checkpoint.state = JobState::kDone;
  metrics.OnFinish(report);
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("backfill_eta_seconds{job=\"users\"} 0"));
  EXPECT_THAT(text, HasSubstr("backfill_progress_ratio{job=\"users\"} 1"));
}

TEST(RunMetricsTest, OnThrottleSetsThrottled) {
  RunMetrics metrics("users");
  Decision wait;
  wait.action = Decision::Action::kWait;
  wait.reason = "replication_lag replica=r1 2.3s > 1s";
  wait.label = "replication_lag replica=r1";
  metrics.OnThrottle(wait);
  EXPECT_THAT(metrics.Render(),
              HasSubstr("backfill_throttled{job=\"users\"} 1"));
  metrics.OnThrottle(Decision{});
  EXPECT_THAT(metrics.Render(),
              HasSubstr("backfill_throttled{job=\"users\"} 0"));
}

TEST(RunMetricsTest, ReadsThrottleStateAndSignalsAtScrape) {
  RunMetrics metrics("users");
  ThrottleController throttle;
  metrics.SetThrottle(&throttle);
  // The series follow the signals' kinds and subjects, not their names.
  throttle.AddSignal("replication_lag replica=r1", SignalKind::kReplicaLag,
                     "r1");
  throttle.AddSignal("replication_lag replica=r2", SignalKind::kReplicaLag,
                     "r2");
  throttle.AddSignal("probe_latency p95", SignalKind::kProbeLatency);
  throttle.Update("replication_lag replica=r1", Reading::Ok(2.5, 1, "s"));
  throttle.Update("replication_lag replica=r2",
                  Reading::Unreadable("connection refused"));
  throttle.Update("probe_latency p95", Reading::Ok(0.004, 0.05, "s"));
  EXPECT_FALSE(throttle.Check().proceed());
  std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("backfill_throttled{job=\"users\"} 1"));
  EXPECT_THAT(text, HasSubstr("backfill_replication_lag_seconds{job=\"users\","
                              "replica=\"r1\"} 2.5"));
  EXPECT_THAT(text, HasSubstr("backfill_replication_lag_seconds{job=\"users\","
                              "replica=\"r2\"} Nan"));
  EXPECT_THAT(text,
              HasSubstr("backfill_probe_latency_seconds{job=\"users\"} 0.004"));
  // Every signal's throttle reason is exposed, at 0 until it holds writes.
  EXPECT_THAT(text, HasSubstr("backfill_throttle_seconds_total{job=\"users\","
                              "reason=\"probe_latency p95\"} 0"));
  EXPECT_THAT(text, HasSubstr("backfill_throttle_seconds_total{job=\"users\","
                              "reason=\"replication_lag replica=r1\"}"));

  throttle.Update("replication_lag replica=r1", Reading::Ok(0.1, 1, "s"));
  throttle.Update("replication_lag replica=r2", Reading::Ok(0.2, 1, "s"));
  EXPECT_TRUE(throttle.Check().proceed());
  text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("backfill_throttled{job=\"users\"} 0"));
  EXPECT_THAT(text, HasSubstr("backfill_replication_lag_seconds{job=\"users\","
                              "replica=\"r1\"} 0.1"));

  metrics.SetThrottle(nullptr);  // detached: the last values stay
  EXPECT_THAT(metrics.Render(),
              Not(HasSubstr("backfill_throttled{job=\"users\"} 1")));
}

TEST(RunMetricsTest, CommitLatencyBaselineFollowsItsReadingsFloor) {
  RunMetrics metrics("users");
  ThrottleController throttle;
  metrics.SetThrottle(&throttle);
  metrics.SetCommitLatencyBaseline(absl::Milliseconds(8));
  EXPECT_THAT(
      metrics.Render(),
      HasSubstr("backfill_commit_latency_baseline_seconds{job=\"users\"}"
                " 0.008"));
  // The run lowered the baseline (backfill/engine/commit_latency.h): the
  // reading's floor carries it to the next scrape.
  Reading r = Reading::Ok(0.0012, 0.002, "s");
  r.floor = 0.001;
  throttle.AddSignal("commit_latency p95", SignalKind::kCommitLatency);
  throttle.Update("commit_latency p95", r);
  const std::string text = metrics.Render();
  EXPECT_THAT(
      text, HasSubstr("backfill_commit_latency_baseline_seconds{job=\"users\"}"
                      " 0.001"));
  EXPECT_THAT(text, HasSubstr("backfill_commit_latency_seconds{job=\"users\"}"
                              " 0.0012"));
}

}  // namespace
}  // namespace backfill
