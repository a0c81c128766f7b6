#include "cli/progress.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(WithCommasTest, GroupsThousands) {
  EXPECT_EQ(WithCommas(0), "0");
  EXPECT_EQ(WithCommas(999), "999");
  EXPECT_EQ(WithCommas(1000), "1,000");
  EXPECT_EQ(WithCommas(123456), "123,456");
  EXPECT_EQ(WithCommas(1234567), "1,234,567");
  EXPECT_EQ(WithCommas(-1234567), "-1,234,567");
}

TEST(ShortDurationTest, Forms) {
  EXPECT_EQ(ShortDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(ShortDuration(absl::Seconds(12)), "12s");
  EXPECT_EQ(ShortDuration(absl::Milliseconds(1499)), "1s");
  EXPECT_EQ(ShortDuration(absl::Milliseconds(1500)), "2s");
  EXPECT_EQ(ShortDuration(absl::Seconds(245)), "4m05s");
  EXPECT_EQ(ShortDuration(absl::Milliseconds(59600)), "1m00s");
  EXPECT_EQ(ShortDuration(absl::Seconds(3723)), "1h02m03s");
  EXPECT_EQ(ShortDuration(absl::Hours(30)), "30h00m00s");
  EXPECT_EQ(ShortDuration(absl::InfiniteDuration()), "?");
}

// Captures what a ProgressPrinter writes.
class PrinterTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = std::tmpfile(); }
  void TearDown() override { std::fclose(file_); }

  std::string Output() {
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

  Checkpoint MakeCheckpoint() {
    Checkpoint cp;
    cp.job = "repo";
    cp.spec = "column repo set a = (\"b\")";
    cp.high_water = Key{"1000"};
    cp.rows_estimate = 1000;
    cp.rows_walked = 250;
    cp.rows_written = 200;
    cp.chunks = 3;
    return cp;
  }

  std::FILE* file_ = nullptr;
  FakeClock clock_;
};

TEST_F(PrinterTest, JsonEventsAreOneObjectPerLine) {
  ProgressPrinter printer(file_, LogFormat::kJson, &clock_, absl::Seconds(5));
  Checkpoint cp = MakeCheckpoint();
  printer.OnStart(cp, JobPlan{}, false);
  Progress p;
  p.checkpoint = &cp;
  p.next_chunk_rows = 500;
  p.eta = absl::InfiniteDuration();
  printer.OnChunk(p);
  printer.OnRetry(absl::AbortedError("deadlock \"detected\""), 2,
                  absl::Milliseconds(150));
  RunReport report;
  report.outcome = RunOutcome::kDone;
  report.reason = "done";
  report.checkpoint = cp;
  printer.OnFinish(report);

  const std::string out = Output();
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << out;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, StartsWith("{\"event\":\"")) << line;
    EXPECT_EQ(line.back(), '}') << line;
  }
  EXPECT_THAT(lines[0],
              HasSubstr("\"spec\":\"column repo set a = (\\\"b\\\")\""));
  EXPECT_THAT(lines[0], HasSubstr("\"resumed\":false"));
  EXPECT_THAT(lines[1], HasSubstr("\"event\":\"progress\""));
  EXPECT_THAT(lines[1], HasSubstr("\"rows_walked\":250"));
  EXPECT_THAT(lines[1], HasSubstr("\"eta_seconds\":null"));
  EXPECT_THAT(lines[2], HasSubstr("\"reason\":\"lock_conflict\""));
  EXPECT_THAT(lines[2], HasSubstr("\"code\":\"ABORTED\""));
  EXPECT_THAT(lines[2], HasSubstr("\"job\":\"repo\""));
  EXPECT_THAT(lines[2], HasSubstr("\"message\":\"deadlock \\\"detected\\\"\""));
  EXPECT_THAT(lines[2], HasSubstr("\"attempt\":2"));
  EXPECT_THAT(lines[3], StartsWith("{\"event\":\"done\""));
  EXPECT_THAT(lines[3], HasSubstr("\"outcome\":\"done\""));
}

TEST_F(PrinterTest, TextProgressIsRateLimited) {
  ProgressPrinter printer(file_, LogFormat::kText, &clock_, absl::Seconds(5));
  Checkpoint cp = MakeCheckpoint();
  Progress p;
  p.checkpoint = &cp;
  printer.OnChunk(p);  // printed
  clock_.Advance(absl::Seconds(1));
  printer.OnChunk(p);  // within the interval: skipped
  clock_.Advance(absl::Seconds(5));
  cp.rows_walked = 600;
  printer.OnChunk(p);  // printed
  std::vector<std::string> lines =
      absl::StrSplit(Output(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("job=repo progress=25.0% rows_walked=250"));
  EXPECT_THAT(lines[1], HasSubstr("rows_walked=600"));
}

TEST_F(PrinterTest, TextFinishSummarises) {
  ProgressPrinter printer(file_, LogFormat::kText, &clock_);
  RunReport report;
  report.outcome = RunOutcome::kStopped;
  report.reason = "stopped by signal";
  report.rows_walked = 12345;
  report.rows_written = 100;
  report.chunks = 7;
  report.elapsed = absl::Seconds(2);
  report.checkpoint = MakeCheckpoint();
  printer.OnFinish(report);
  EXPECT_EQ(
      Output(),
      "backfill: job repo: stopped by signal; this run walked 12,345 rows, "
      "wrote 100 in 7 chunks, 2.0s (6,173 rows/s)\n");
}

}  // namespace
}  // namespace backfill
