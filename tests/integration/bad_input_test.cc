// docs/DESIGN.md invariant 7: bad input gets one clear line naming the problem,
// exit code 2, and nothing written: no row changed, no checkpoint table.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

struct BadInput {
  std::string name;
  std::vector<std::string> args;  // after `run --dsn <scratch>`
  std::string expected;           // a piece of the one-line error
};

class BadInputTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    db_->Exec(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, a INT, b INT, email "
        "VARCHAR(64))");
    db_->Exec("CREATE TABLE x (id BIGINT PRIMARY KEY)");
    db_->Exec("CREATE TABLE nokey (id BIGINT, a INT, b INT)");
    db_->Exec("CREATE TABLE accounts_v2 (id BIGINT PRIMARY KEY, a INT, b INT)");
    db_->Exec(db_->InsertSeries("accounts", "id, a, email", 500,
                                "g, g, concat('e', g)"));
    db_->Exec(db_->InsertSeries("nokey", "id, a", 50, "g, g"));
    db_->Exec(db_->InsertSeries("x", "id", 5, "g"));
  }

  // Runs, and checks exit 2, a single stderr line containing `expected`,
  // and that nothing was written.
  void ExpectRejected(const std::vector<std::string>& args,
                      const std::string& expected,
                      const std::string& dsn = "") {
    std::vector<std::string> full = {"run", "--dsn",
                                     dsn.empty() ? db_->dsn() : dsn};
    full.insert(full.end(), args.begin(), args.end());
    CliResult r = RunCli(full);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, expected))
        << "expected \"" << expected << "\" in: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(db_->TableExists("backfill_checkpoints"))
        << "a checkpoint was written";
    EXPECT_EQ(
        db_->QueryInt("SELECT count(*) FROM accounts WHERE b IS NOT NULL"), 0);
    EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM accounts_v2"), 0);
    EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM x"), 5);  // never dropped
  }
};

TEST_P(BadInputTest, MissingTable) {
  ExpectRejected({"--table", "nosuch", "--set", "b = a"},
                 "table \"nosuch\" does not exist");
}

TEST_P(BadInputTest, MissingTargetColumn) {
  ExpectRejected({"--table", "accounts", "--set", "nosuch = a"},
                 "column \"nosuch\" does not exist");
}

TEST_P(BadInputTest, MissingColumnInTheExpression) {
  ExpectRejected({"--table", "accounts", "--set", "b = nosuch + 1"}, "nosuch");
}

TEST_P(BadInputTest, TableWithoutPrimaryKey) {
  ExpectRejected({"--table", "nokey", "--set", "b = a"}, "has no primary key");
}

TEST_P(BadInputTest, ExpressionThatDoesNotParse) {
  ExpectRejected({"--table", "accounts", "--set", "b = a + * 2"}, "syntax");
}

TEST_P(BadInputTest, ExpressionThatDoesNotTypeCheck) {
  ExpectRejected({"--table", "accounts", "--set", "b = no_such_function(a)"},
                 "no_such_function");
}

TEST_P(BadInputTest, IdentifierSmugglingSql) {
  ExpectRejected({"--table", "accounts; drop table x", "--set", "b = a"},
                 "table \"accounts; drop table x\" does not exist");
  ExpectRejected({"--table", "accounts", "--set", "b; drop table x = a"},
                 "does not exist");
}

TEST_P(BadInputTest, IdentifierWithQuotesAndBackticks) {
  ExpectRejected({"--table", "acc\"ounts", "--set", "b = a"}, "does not exist");
  ExpectRejected({"--table", "acc`ounts`; drop table x; --", "--set", "b = a"},
                 "does not exist");
}

TEST_P(BadInputTest, ExpressionSmugglingAStatement) {
  ExpectRejected({"--table", "accounts", "--set", "b = 1; DROP TABLE x"},
                 "contains ';'");
  ExpectRejected(
      {"--table", "accounts", "--set", "b = a", "--where", "1 = 1) OR (1 = 1"},
      "--where");
  ExpectRejected(
      {"--table", "accounts", "--set", "b = a", "--where", "a > 0 --"},
      "comment");
}

TEST_P(BadInputTest, UnreachableServer) {
  std::string dsn = db_->dsn();
  const size_t at = dsn.rfind('@');
  const size_t slash = dsn.find('/', at);
  dsn = dsn.substr(0, at + 1) + "127.0.0.1:1" + dsn.substr(slash);
  ExpectRejected({"--table", "accounts", "--set", "b = a"}, "cannot connect",
                 dsn);
}

TEST_P(BadInputTest, WrongPassword) {
  const std::string password = "wrong-Pa55word";
  std::vector<std::string> full = {
      "run",   "--dsn", db_->dsn_with_password(password), "--table", "accounts",
      "--set", "b = a"};
  CliResult r = RunCli(full);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, password)) << r.err;
  ExpectRejected({"--table", "accounts", "--set", "b = a"}, "cannot connect",
                 db_->dsn_with_password(password));
}

TEST_P(BadInputTest, MalformedDsn) {
  ExpectRejected({"--table", "accounts", "--set", "b = a"}, "bad --dsn",
                 "oracle://x@y/z");
}

TEST_P(BadInputTest, InconsistentFlags) {
  ExpectRejected({"--table", "accounts", "--set", "b = a", "--on", "a = b"},
                 "--on needs --from");
  ExpectRejected({"--table", "accounts", "--from", "x", "--set", "b = a"},
                 "--on");
  ExpectRejected({"--into", "accounts_v2", "--columns", "id, a"},
                 "--into needs --from");
  ExpectRejected({"--table", "accounts"}, "nothing to set");
  ExpectRejected({"--table", "accounts", "--set", "b = a", "--chunk-rows", "0"},
                 "chunk");
  ExpectRejected(
      {"--table", "accounts", "--set", "b = a", "--target-chunk-time", "fast"},
      "--target-chunk-time");
  ExpectRejected({"--table", "accounts", "--set", "b = a", "--no-such-flag"},
                 "no-such-flag");
}

TEST_P(BadInputTest, CopyWithoutTheTargetKey) {
  ExpectRejected(
      {"--from", "accounts", "--into", "accounts_v2", "--columns", "a, b = a"},
      "must include \"id\"");
}

TEST_P(BadInputTest, NullableWalkKey) {
  ExpectRejected({"--table", "nokey", "--set", "b = a", "--key", "id"},
                 "nullable");
}

BACKFILL_INSTANTIATE(BadInputTest);

}  // namespace
}  // namespace backfill::testing
