#include "cli/status_format.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Checkpoint Sample(const std::string& job) {
  Checkpoint cp;
  cp.job = job;
  cp.fingerprint = "0123456789abcdef";
  cp.spec = "column repo set a = (b)";
  cp.high_water = Key{"1000"};
  cp.last_key = Key{"250"};
  cp.rows_estimate = 1000;
  cp.rows_walked = 250;
  cp.rows_written = 1234567;
  cp.chunks = 3;
  cp.state = JobState::kStopped;
  cp.started_at = absl::FromUnixSeconds(1700000000);
  cp.updated_at = absl::FromUnixSeconds(1700000100);
  return cp;
}

TEST(FormatStatusTableTest, HeaderAndOneLinePerJob) {
  Checkpoint paused = Sample("orders_v2");
  paused.pause_requested = true;
  paused.state = JobState::kRunning;
  paused.last_key = Key{"a", "7"};
  const std::string table = FormatStatusTable({Sample("repo"), paused});
  std::vector<std::string> lines =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << table;
  EXPECT_THAT(lines[0], StartsWith("JOB"));
  EXPECT_THAT(lines[0], HasSubstr("STATE"));
  EXPECT_THAT(lines[0], HasSubstr("PROGRESS"));
  EXPECT_THAT(lines[1], StartsWith("repo "));
  EXPECT_THAT(lines[1], HasSubstr("stopped"));
  EXPECT_THAT(lines[1], HasSubstr("25.0%"));
  EXPECT_THAT(lines[1], HasSubstr("1,234,567"));
  EXPECT_THAT(lines[1], HasSubstr("2023-11-14 22:15:00Z"));
  EXPECT_THAT(lines[2], StartsWith("orders_v2 "));
  EXPECT_THAT(lines[2], HasSubstr("running (pause requested)"));
  EXPECT_THAT(lines[2], HasSubstr("(a, 7)"));
  // Columns are aligned: STATE starts at the same offset on every line.
  const size_t state_col = lines[0].find("STATE");
  EXPECT_EQ(lines[1].find("stopped"), state_col);
  EXPECT_EQ(lines[2].find("running"), state_col);
}

TEST(FormatStatusTableTest, EmptyListIsJustTheHeader) {
  std::vector<std::string> lines =
      absl::StrSplit(FormatStatusTable({}), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], StartsWith("JOB"));
}

TEST(CheckpointToJsonTest, FieldsAndEscaping) {
  Checkpoint cp = Sample("we\"ird\\job");
  cp.message = "line1\nline2";
  cp.last_key.reset();
  const std::string json = CheckpointToJson(cp);
  EXPECT_THAT(json, StartsWith("{\"job\":\"we\\\"ird\\\\job\","));
  EXPECT_EQ(json.back(), '}');
  EXPECT_THAT(json, HasSubstr("\"state\":\"stopped\""));
  EXPECT_THAT(json, HasSubstr("\"pause_requested\":false"));
  EXPECT_THAT(json, HasSubstr("\"progress\":0.2500"));
  EXPECT_THAT(json, HasSubstr("\"rows_walked\":250"));
  EXPECT_THAT(json, HasSubstr("\"last_key\":null"));
  EXPECT_THAT(json, HasSubstr("\"high_water\":[\"1000\"]"));
  EXPECT_THAT(json, HasSubstr("\"message\":\"line1\\nline2\""));
  EXPECT_THAT(json, HasSubstr("\"started_at\":\"2023-11-14T22:13:20+00:00\""));
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace backfill
