// docs/DESIGN.md invariant 4: kill -9 at random points; after each kill the
// data matches the committed checkpoint exactly, and the final data is exact.
// The total rows rewritten stay within N plus one chunk per kill.

#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using KillResumeTest = IntegrationTest;

TEST_P(KillResumeTest, KillNineAtRandomPointsThenResume) {
  constexpr int64_t kRows = 300000;
  constexpr int64_t kChunk = 1000;
  constexpr int kKills = 4;
  db_->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db_->Exec(db_->InsertSeries("users", "id, username", kRows,
                              "g, concat('user', g)"));
  const int64_t updated_before = db_->RowsUpdated("users");
  const std::vector<std::string> args = {"run",
                                         "--dsn",
                                         db_->dsn(),
                                         "--table",
                                         "users",
                                         "--set",
                                         "login_name = username",
                                         "--chunk-rows",
                                         absl::StrCat(kChunk),
                                         "--target-chunk-time",
                                         "0",
                                         "--log-format",
                                         "text"};

  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int i = 0; i < kKills; ++i) {
    CliProcess p(args);
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    if (p.Exited()) break;
    p.Signal(SIGKILL);
    CliResult r = p.Wait();
    ASSERT_EQ(r.exit_code, -SIGKILL);
    ++kills;
    // The committed checkpoint and the data agree at every instant.
    ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
    if (HasFailure()) return;
  }
  ASSERT_GT(kills, 0)
      << "the run finished before the first kill; make the table bigger";

  CliResult final_run = RunCli(args);
  ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  const int64_t rewritten = db_->RowsUpdated("users") - updated_before;
  EXPECT_GE(rewritten, kRows);
  EXPECT_LE(rewritten, kRows + kills * kChunk) << kills << " kills";
  RecordProperty("kills", kills);
  RecordProperty("rows_updated", static_cast<int>(rewritten));
}

BACKFILL_INSTANTIATE_WITH_POOLER(KillResumeTest);

}  // namespace
}  // namespace backfill::testing
