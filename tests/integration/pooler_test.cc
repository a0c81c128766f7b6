// Through the dev PgBouncer (scripts/dev-db). Transaction pooling is covered
// by the suites instantiated for "pgbouncer" (shapes, invariants with
// pause/resume, status and the job lease, verify, kill -9 and resume,
// dual-write), each followed by a check that no server connection of the
// pool carries anything the engine set. Here: the other pool modes.

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"
#include "tests/integration/pg_test_dsn.h"
#include "tests/integration/pool_check.h"

namespace backfill::testing {
namespace {

// dev-db gives these users statement and session pooling ([users] in
// pgbouncer.ini); their password is the dev one.
constexpr char kStatementUser[] = "bf_pool_statement";
constexpr char kSessionUser[] = "bf_pool_session";
constexpr char kDevPassword[] = "backfill";

class PoolerTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    check_pool_ = false;  // other users' pools, checked by the tests
    db_->Exec(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64))");
    db_->Exec(db_->InsertSeries("users", "id, username", 20000,
                                "g, concat('user', g)"));
  }

  std::string As(const std::string& dsn, const std::string& user) {
    return PgUri(dsn, {{"user", user}, {"password", kDevPassword}});
  }
};

TEST_P(PoolerTest, StatementPoolingIsRefusedBeforeAnythingIsWritten) {
  CliResult r = RunCli({"run", "--dsn", As(db_->dsn(), kStatementUser),
                        "--table", "users", "--set", "login_name = username"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "statement pooling mode")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "pool_mode = transaction")) << r.err;
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      0);
}

TEST_P(PoolerTest, SessionPoolingRunsAndLeavesNothingOnThePool) {
  const std::string dsn = As(db_->dsn(), kSessionUser);
  CliResult r = RunCli({"run", "--dsn", dsn, "--table", "users", "--set",
                        "login_name = username", "--chunk-rows", "1000",
                        "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  CliResult status =
      RunCli({"status", "--dsn", dsn, "--job", "users", "--json"});
  EXPECT_TRUE(absl::StrContains(status.out, "\"state\":\"done\""))
      << status.out;
  EXPECT_GT(ExpectPoolIsClean(dsn, As(db_->direct_dsn(), kSessionUser)), 0);
}

std::vector<std::string> PoolerKinds() {
  std::vector<std::string> out;
  for (const std::string& k : TestDb::KindsWithPooler()) {
    if (k == "pgbouncer") out.push_back(k);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Db, PoolerTest, ::testing::ValuesIn(PoolerKinds()),
                         ParamName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PoolerTest);

}  // namespace
}  // namespace backfill::testing
