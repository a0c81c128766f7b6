// `backfill verify`: counts rows where the new representation differs from
// f(old), lists a few keys, exits 0 when none differ and 1 when some do, and
// writes nothing.

#include "absl/strings/match.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using VerifyTest = IntegrationTest;

CliResult Verify(TestDb* db, const std::vector<std::string>& args) {
  std::vector<std::string> full = {"verify", "--dsn", db->dsn()};
  full.insert(full.end(), args.begin(), args.end());
  return RunCli(full);
}

TEST_P(VerifyTest, ColumnShapeFindsAndListsDifferingRows) {
  db_->Exec("CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
            "login_name VARCHAR(64))");
  db_->Exec(db_->InsertSeries("users", "id, username", 5000, "g, concat('user', g)"));
  const std::vector<std::string> job = {"--table", "users", "--set", "login_name = username",
                                        "--chunk-rows", "700", "--target-chunk-time", "0"};
  CliResult before = Verify(db_.get(), job);
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_TRUE(absl::StrContains(before.out, "5,000 differ")) << before.out;

  std::vector<std::string> run = {"run", "--dsn", db_->dsn()};
  run.insert(run.end(), job.begin(), job.end());
  ASSERT_EQ(RunCli(run).exit_code, 0);
  CliResult after = Verify(db_.get(), job);
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_TRUE(absl::StrContains(after.out, "verified 5,000 rows")) << after.out;
  EXPECT_TRUE(absl::StrContains(after.out, ": 0 differ")) << after.out;

  // Drift: a writer that forgot the new column.
  db_->Exec("UPDATE users SET username = 'changed' WHERE id IN (42, 4242)");
  db_->Exec("UPDATE users SET login_name = NULL WHERE id = 7");
  const int64_t updated = db_->RowsUpdated("users");
  CliResult drift = Verify(db_.get(), {"--table", "users", "--set", "login_name = username",
                                       "--show", "2"});
  EXPECT_EQ(drift.exit_code, 1) << drift.err;
  EXPECT_TRUE(absl::StrContains(drift.out, "3 differ")) << drift.out;
  EXPECT_TRUE(absl::StrContains(drift.out, "key 7\n  key 42\n")) << drift.out;
  EXPECT_FALSE(absl::StrContains(drift.out, "key 4242")) << drift.out;
  EXPECT_EQ(db_->RowsUpdated("users"), updated) << "verify wrote";
}

TEST_P(VerifyTest, JoinShape) {
  CreateRepoStar(3000);
  const std::vector<std::string> job = {"--table", "repo", "--from", "star", "--on",
                                        "star.repo_name = repo.repo_name", "--set",
                                        "star_count = star.star_count"};
  EXPECT_EQ(Verify(db_.get(), job).exit_code, 1);
  std::vector<std::string> run = {"run", "--dsn", db_->dsn()};
  run.insert(run.end(), job.begin(), job.end());
  ASSERT_EQ(RunCli(run).exit_code, 0);
  EXPECT_EQ(Verify(db_.get(), job).exit_code, 0);
  db_->Exec("UPDATE star SET star_count = star_count + 1 WHERE repo_name = 'repo-10'");
  CliResult drift = Verify(db_.get(), job);
  EXPECT_EQ(drift.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(drift.out, "1 differ\n  key 10\n")) << drift.out;
}

TEST_P(VerifyTest, CopyShapeCountsMissingRows) {
  db_->Exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, amount_cents INT, note VARCHAR(64))");
  db_->Exec("CREATE TABLE orders_v2 (id BIGINT PRIMARY KEY, amount DECIMAL(12,2), "
            "note VARCHAR(64))");
  db_->Exec(db_->InsertSeries("orders", "id, amount_cents, note", 2000,
                              "g, g * 7, concat('n', g)"));
  const std::vector<std::string> job = {"--from", "orders", "--into", "orders_v2", "--columns",
                                        "id, note, amount = amount_cents / 100.0"};
  std::vector<std::string> run = {"run", "--dsn", db_->dsn()};
  run.insert(run.end(), job.begin(), job.end());
  ASSERT_EQ(RunCli(run).exit_code, 0);
  EXPECT_EQ(Verify(db_.get(), job).exit_code, 0);
  db_->Exec("DELETE FROM orders_v2 WHERE id IN (3, 1999)");
  db_->Exec("UPDATE orders_v2 SET note = 'x' WHERE id = 500");
  CliResult drift = Verify(db_.get(), job);
  EXPECT_EQ(drift.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(drift.out, "3 differ (2 missing from orders_v2)")) << drift.out;
  EXPECT_TRUE(absl::StrContains(drift.out, "key 3\n  key 500\n  key 1999\n")) << drift.out;
}

TEST_P(VerifyTest, BadInputExitsTwo) {
  CliResult r = Verify(db_.get(), {"--table", "nosuch", "--set", "a = b"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "does not exist")) << r.err;
}

BACKFILL_INSTANTIATE_WITH_POOLER(VerifyTest);

}  // namespace
}  // namespace backfill::testing
