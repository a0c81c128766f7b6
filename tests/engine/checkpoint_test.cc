#include "backfill/engine/checkpoint.h"

#include "backfill/engine/json.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

TEST(JobStateTest, NamesRoundTrip) {
  for (JobState s : {JobState::kRunning, JobState::kStopped, JobState::kPaused,
                     JobState::kDone, JobState::kFailed}) {
    EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  }
  EXPECT_EQ(JobStateName(JobState::kDone), "done");
  EXPECT_EQ(JobStateName(JobState::kPaused), "paused");
}

TEST(JobStateTest, UnknownNameIsNeverDone) {
  EXPECT_EQ(ParseJobState("DONE"), JobState::kFailed);
  EXPECT_EQ(ParseJobState(""), JobState::kFailed);
  EXPECT_EQ(ParseJobState("finished"), JobState::kFailed);
}

TEST(CheckpointTest, ProgressNeverClaimsDoneEarly) {
  Checkpoint cp;
  EXPECT_DOUBLE_EQ(cp.progress(), 0.0);  // no estimate
  cp.rows_estimate = 200;
  cp.rows_walked = 50;
  EXPECT_DOUBLE_EQ(cp.progress(), 0.25);
  cp.rows_walked = 500;  // the estimate was low
  EXPECT_DOUBLE_EQ(cp.progress(), 0.99);
  cp.state = JobState::kDone;
  EXPECT_DOUBLE_EQ(cp.progress(), 1.0);
}

TEST(JsonStringTest, Escapes) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\n\r\t\x01\x1f"), R"("\n\r\t\u0001\u001f")");
  EXPECT_EQ(JsonString("é"), "\"é\"");
}

}  // namespace
}  // namespace backfill
