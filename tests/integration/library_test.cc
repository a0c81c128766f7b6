// The public API (backfill/backfill.h) as a job runner uses it: bounded
// slices that each return and leave the rest to the checkpoint.

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backfill/backfill.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using LibraryTest = IntegrationTest;

void CreateUsers(TestDb* db, int64_t n) {
  db->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db->Exec(
      db->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
}

// Records the longest chunk of a run.
class LongestChunk : public Observer {
 public:
  void OnChunk(const Progress& p) override {
    longest = std::max(longest, p.last_chunk_time);
  }
  absl::Duration longest = absl::ZeroDuration();
};

RunOptions FixedChunks(int64_t rows) {
  RunOptions options;
  options.chunking.initial_rows = rows;
  options.chunking.min_rows = rows;
  options.chunking.max_rows = rows;
  options.chunking.target_chunk_time = absl::ZeroDuration();
  return options;
}

TEST_P(LibraryTest, SlicesStopWithinMaxDurationAndTheNextContinues) {
  // Big enough for several 300ms slices on a quiet machine (MariaDB walked
  // 60000 rows in two).
  constexpr int64_t kRows = 200000;
  CreateUsers(db_.get(), kRows);
  absl::StatusOr<JobSpec> spec = ColumnJob("users", {"login_name = username"});
  ASSERT_TRUE(spec.ok()) << spec.status();

  RunOptions options = FixedChunks(500);
  options.max_duration = absl::Milliseconds(300);
  int64_t walked = 0, written = 0;
  int slices = 0;
  std::optional<Key> last_key;
  while (true) {
    LongestChunk longest;
    options.observer = &longest;
    absl::StatusOr<RunReport> report =
        backfill::Run({.dsn = db_->dsn()}, *spec, options);
    ASSERT_TRUE(report.ok()) << report.status();
    ++slices;
    ASSERT_LT(slices, 1000);
    walked += report->rows_walked;
    written += report->rows_written;
    if (slices > 1) {
      EXPECT_TRUE(report->resumed);
      // It began where the previous slice's checkpoint ended.
      EXPECT_EQ(report->checkpoint.rows_walked, walked);
    }
    if (report->outcome == RunOutcome::kDone) break;
    ASSERT_EQ(report->outcome, RunOutcome::kSliceEnd) << report->reason;
    // max_duration, plus the chunk in flight, plus the final checkpoint write
    // (slack for a loaded machine).
    EXPECT_LE(report->elapsed,
              options.max_duration + longest.longest + absl::Milliseconds(500))
        << "slice " << slices << ", longest chunk " << longest.longest;
    EXPECT_GE(report->elapsed, options.max_duration);
    EXPECT_NE(report->checkpoint.last_key, last_key);
    last_key = report->checkpoint.last_key;
  }
  EXPECT_GE(slices, 3) << "the table was walked too fast to test slices";
  // Every row walked and written exactly once across the slices.
  EXPECT_EQ(walked, kRows);
  EXPECT_EQ(written, kRows);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(LibraryTest, MaxChunksSlicesContinueFromTheCheckpoint) {
  CreateUsers(db_.get(), 5000);
  absl::StatusOr<JobSpec> spec = ColumnJob("users", {"login_name = username"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  RunOptions options = FixedChunks(1000);
  options.max_chunks = 2;
  for (int slice = 1; slice <= 3; ++slice) {
    absl::StatusOr<RunReport> report =
        backfill::Run({.dsn = db_->dsn()}, *spec, options);
    ASSERT_TRUE(report.ok()) << report.status();
    if (slice < 3) {
      EXPECT_EQ(report->outcome, RunOutcome::kSliceEnd);
      EXPECT_EQ(report->chunks, 2);
      EXPECT_EQ(report->rows_written, 2000);
      EXPECT_EQ(report->checkpoint.rows_walked, slice * 2000);
      EXPECT_EQ(db_->QueryInt(
                    "SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
                slice * 2000);
    } else {
      EXPECT_EQ(report->outcome, RunOutcome::kDone) << report->reason;
      EXPECT_EQ(report->rows_written, 1000);
    }
  }
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(LibraryTest, BadInputFailsBeforeWriting) {
  CreateUsers(db_.get(), 100);
  absl::StatusOr<JobSpec> spec =
      ColumnJob("users", {"no_such_column = username"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<RunReport> report =
      backfill::Run({.dsn = db_->dsn()}, *spec, RunOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound)
      << report.status();
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));

  EXPECT_EQ(ColumnJob("users", {"login_name username"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JoinJob("repo", "star", "", {"star_count = star.star_count"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CopyJob("orders", "orders_v2", "id, total = amount").ok());
}

BACKFILL_INSTANTIATE(LibraryTest);

}  // namespace
}  // namespace backfill::testing
