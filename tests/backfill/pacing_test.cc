// The library's pacing policy (backfill/pacing.h), without a database.

#include "backfill/pacing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A MySQL replica applies a chunk only once committed: with replicas, the
// default chunk time is cut to a tenth of the lag limit; an explicit one is
// kept with a note; PostgreSQL, no replica, and fixed-size chunks are
// unchanged.
TEST(ChunkTimeForReplicasTest, CutsTheDefaultOnMysqlReplicas) {
  PacingOptions s;
  s.replicas = {"mysql://u@r1:3307/db"};
  const absl::Duration target = absl::Milliseconds(500);
  std::vector<std::string> notes;
  EXPECT_EQ(
      ChunkTimeForReplicas(s, DatabaseKind::kMysql, target, false, &notes),
      absl::Milliseconds(100));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("chunks sized to take 100ms, not 500ms"));

  notes.clear();
  EXPECT_EQ(ChunkTimeForReplicas(s, DatabaseKind::kMysql, target, true, &notes),
            target);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("`chunking.target_chunk_time` 500ms"));
  EXPECT_THAT(notes[0], HasSubstr("100ms or less avoids that"));

  notes.clear();
  EXPECT_EQ(ChunkTimeForReplicas(s, DatabaseKind::kMysql,
                                 absl::Milliseconds(80), true, &notes),
            absl::Milliseconds(80));
  EXPECT_EQ(ChunkTimeForReplicas(s, DatabaseKind::kMysql, absl::ZeroDuration(),
                                 false, &notes),
            absl::ZeroDuration());
  EXPECT_EQ(
      ChunkTimeForReplicas(s, DatabaseKind::kPostgres, target, false, &notes),
      target);
  EXPECT_TRUE(notes.empty());

  // --max-lag 5s leaves room for 500ms chunks; without a replica there is
  // nothing to protect.
  PacingOptions roomy = s;
  roomy.lag.max_lag = absl::Seconds(5);
  for (const PacingOptions& other : {roomy, PacingOptions{}}) {
    EXPECT_EQ(ChunkTimeForReplicas(other, DatabaseKind::kMysql, target, false,
                                   &notes),
              target);
  }
  EXPECT_TRUE(notes.empty());
}

TEST(DescribePacingTest, SaysWhatPacesTheRun) {
  PacingOptions s;  // the commit latency at 2x by default
  s.replicas = {"mysql://u:secret@r1:3307/db"};
  s.load = {LoadLimit{"Threads_running", 25, 50}};
  std::vector<std::string> lines = DescribePacing(s);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "commit latency: the p95 of a one-row write and commit on the "
            "primary, at most 2x its quiet baseline (measured for 3s before "
            "the first chunk, lowered when the run reads below it); "
            "`commit_latency` 0 turns it off");
  EXPECT_EQ(lines[1], "replication lag of r1:3307 up to 1s");
  EXPECT_EQ(lines[2], "load Threads_running up to 25, critical at 50");
  EXPECT_EQ(lines[3],
            "the pace is unlimited until a signal passes 80% of its limit, "
            "then follows the one nearest its limit, rising at most x1.07 "
            "every 1s; writes pause at a limit");
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("secret")));
  }

  s = {};
  s.commit_latency = CommitLatencyLimit();  // off
  EXPECT_TRUE(DescribePacing(s).empty());
}

// With the commit latency on, the pace at most doubles over one window of
// it; without, the Pace's own default step up.
TEST(PaceForTest, RisesNoFasterThanTheCommitLatencyCanSee) {
  PacingOptions s;
  const PaceOptions pace = PaceFor(s);
  const double steps = absl::FDivDuration(s.commit_latency.window, pace.period);
  EXPECT_NEAR(std::pow(pace.max_increase, steps), 2.0, 1e-9);
  EXPECT_EQ(pace.hold_after_decrease, s.commit_latency.window);
  s.commit_latency = CommitLatencyLimit();  // off
  EXPECT_EQ(PaceFor(s).max_increase, PaceOptions().max_increase);
}

// Every inconsistent combination is bad input naming the member; the
// defaults and a full, consistent set are fine.
TEST(CheckPacingOptionsTest, NamesTheInconsistentOption) {
  EXPECT_TRUE(CheckPacingOptions(PacingOptions{}).ok());
  PacingOptions full;
  full.replicas = {"postgresql://u@r1/db"};
  full.lag.critical_lag = absl::Seconds(30);
  full.max_latency = absl::Milliseconds(50);
  full.throttle_query = "SELECT 1";
  full.throttle_threshold = 5;
  full.max_rows_per_second = 1000;
  full.ignore_unreachable_replicas = 1;
  full.load = {{"Threads_running", 25, 50}, {"Threads_connected", 0, 500}};
  EXPECT_TRUE(CheckPacingOptions(full).ok()) << CheckPacingOptions(full);

  struct Case {
    void (*spoil)(PacingOptions*);
    const char* message;
  };
  const Case cases[] = {
      {[](PacingOptions* p) { p->lag.critical_lag = absl::Seconds(1); },
       "lag.critical_lag: must be above `lag.max_lag` (1s)"},
      {[](PacingOptions* p) {
         p->lag.max_lag = absl::ZeroDuration();
         p->lag.critical_lag = absl::Seconds(10);
       },
       "lag.critical_lag: needs lag watching (`lag.max_lag` is 0)"},
      {[](PacingOptions* p) { p->lag.max_lag = -absl::Seconds(1); },
       "lag.max_lag: must not be negative"},
      {[](PacingOptions* p) { p->lag.max_lag_bytes = -1; },
       "lag.max_lag_bytes: must be a number of bytes >= 0"},
      {[](PacingOptions* p) {
         p->replicas = {"postgresql://u@r1/db"};
         p->lag.max_lag = absl::ZeroDuration();
       },
       "replicas: lag watching is off (`lag.max_lag` is 0)"},
      {[](PacingOptions* p) { p->ignore_unreachable_replicas = 1; },
       "ignore_unreachable_replicas: needs `replicas` to ignore"},
      {[](PacingOptions* p) {
         p->max_latency = absl::Milliseconds(5);
         p->probe_query.clear();
       },
       "probe_query: is empty"},
      {[](PacingOptions* p) { p->throttle_query = "SELECT 1"; },
       "throttle_threshold: must be a number above 0"},
      {[](PacingOptions* p) { p->max_rows_per_second = -1; },
       "max_rows_per_second: must be a number >= 0"},
      {[](PacingOptions* p) { p->commit_latency.factor = 1; },
       "commit_latency: needs a factor above 1"},
      {[](PacingOptions* p) {
         p->load = {{"Threads_running", 25, 20}};
       },
       "load.critical: Threads_running must be above its `load.max` (25)"},
      {[](PacingOptions* p) {
         p->load = {{"Threads_running", 0, 0}};
       },
       "load: Threads_running needs a max or a critical above 0"},
      {[](PacingOptions* p) {
         p->load = {{"a", 1, 0}, {"A", 2, 0}};
       },
       "load: A is given twice"},
  };
  for (const Case& c : cases) {
    PacingOptions p;
    c.spoil(&p);
    const absl::Status s = CheckPacingOptions(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
  }
}

// A job runner's inconsistent options fail in OpenPacing before any
// connection is tried (the primary here does not exist).
TEST(CheckPacingOptionsTest, OpenPacingChecksBeforeConnecting) {
  PacingOptions p;
  p.lag.critical_lag = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<Pacing>> pacing =
      OpenPacing(p, {.dsn = "postgresql://u@127.0.0.1:1/db"}, "job",
                 absl::Milliseconds(500), Clock::Real());
  ASSERT_FALSE(pacing.ok());
  EXPECT_EQ(pacing.status().message(),
            "lag.critical_lag: must be above `lag.max_lag` (1s)");
}

}  // namespace
}  // namespace backfill
