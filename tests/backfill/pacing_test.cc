// The library's pacing policy (backfill/pacing.h), without a database.

#include "backfill/pacing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A MySQL replica applies a chunk only once committed: with replicas, the
// default chunk time is cut to a tenth of the lag limit; an explicit one is kept
// with a note; PostgreSQL, no replica, and fixed-size chunks are unchanged.
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
  EXPECT_EQ(
      ChunkTimeForReplicas(s, DatabaseKind::kMysql, target, true, &notes),
      target);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("--target-chunk-time 500ms"));
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
            "--max-commit-latency 0 turns it off");
  EXPECT_EQ(lines[1], "replication lag of r1:3307 up to 1s");
  EXPECT_EQ(lines[2], "load Threads_running up to 25, critical at 50");
  EXPECT_EQ(lines[3],
            "the pace is unlimited until a signal passes 80% of its limit, "
            "then follows the one nearest its limit; writes pause at a limit");
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("secret")));
  }

  s = {};
  s.commit_latency = CommitLatencyLimit();  // off
  EXPECT_TRUE(DescribePacing(s).empty());
}

}  // namespace
}  // namespace backfill
