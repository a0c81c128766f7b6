// The three shapes of docs/DESIGN.md on a real database, over every key kind:
// integer (sparse), text, UUID and composite keys, NULLs, --where, and an
// empty table.

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using ShapesTest = IntegrationTest;

TEST_P(ShapesTest, ColumnShapeFillsEveryRowOverSparseKeysAndNulls) {
  db_->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  // Keys 7, 14, 21, ...; every tenth username is NULL.
  db_->Exec(db_->InsertSeries(
      "users", "id, username", 20000,
      "g * 7, CASE WHEN g % 10 = 0 THEN NULL ELSE concat('user', g) END"));
  CliResult r =
      Run({"--table", "users", "--set", "login_name = upper(username)",
           "--chunk-rows", "700", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "upper(username)"), 0);
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NULL"),
      2000);
  CliResult status = Command("status", {"--job", "users", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"state\":\"done\""), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\"rows_walked\":20000"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\"rows_written\":18000"), std::string::npos)
      << status.out;
}

TEST_P(ShapesTest, ColumnShapeWithSeveralAssignments) {
  db_->Exec(
      "CREATE TABLE people (id BIGINT PRIMARY KEY, full_name VARCHAR(64), "
      "first_name VARCHAR(64), last_name VARCHAR(64))");
  db_->Exec(db_->InsertSeries("people", "id, full_name", 3000,
                              "g, concat('first', g, ' last', g)"));
  CliResult r =
      Run({"--table", "people", "--set",
           "first_name = substr(full_name, 1, position(' ' in full_name) - 1)",
           "--set",
           "last_name = substr(full_name, position(' ' in full_name) + 1)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("people", "first_name", "concat('first', id)"), 0);
  EXPECT_EQ(Mismatches("people", "last_name", "concat('last', id)"), 0);
}

TEST_P(ShapesTest, JoinShapeCopiesStarCountIntoRepo) {
  CreateRepoStar(10000);
  CliResult r = Run({"--table", "repo", "--from", "star", "--on",
                     "star.repo_name = repo.repo_name", "--set",
                     "star_count = star.star_count", "--chunk-rows", "333",
                     "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM repo JOIN star ON star.repo_name = "
                    "repo.repo_name WHERE repo.star_count IS NULL OR "
                    "repo.star_count <> star.star_count"),
      0);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM repo WHERE star_count IS NULL"),
            0);
}

TEST_P(ShapesTest, CopyShapeCopiesRowsWithChangedTypes) {
  db_->Exec(
      "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount_cents INT, note "
      "VARCHAR(64))");
  db_->Exec(
      "CREATE TABLE orders_v2 (id BIGINT PRIMARY KEY, amount DECIMAL(12,2), "
      "note VARCHAR(64))");
  db_->Exec(db_->InsertSeries(
      "orders", "id, amount_cents, note", 12000,
      "g * 3, g * 101, CASE WHEN g % 7 = 0 THEN NULL ELSE concat('n', g) END"));
  // The application already dual-wrote a few rows, one of them stale.
  db_->Exec(
      "INSERT INTO orders_v2 (id, amount, note) VALUES (3, 1.01, 'n1'), (6, "
      "99, 'old')");
  CliResult r = Run({"--from", "orders", "--into", "orders_v2", "--columns",
                     "id, note, amount = amount_cents / 100.0", "--chunk-rows",
                     "1000", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM orders_v2"), 12000);
  EXPECT_EQ(db_->QueryInt(
                "SELECT count(*) FROM orders o JOIN orders_v2 n ON n.id = o.id "
                "WHERE n.amount * 100 = o.amount_cents AND "
                "(n.note = o.note OR (n.note IS NULL AND o.note IS NULL))"),
            12000);
}

TEST_P(ShapesTest, TextKey) {
  db_->Exec(
      "CREATE TABLE tags (name VARCHAR(64) PRIMARY KEY, label VARCHAR(64), "
      "slug VARCHAR(64))");
  db_->Exec(db_->InsertSeries("tags", "name, label", 5000,
                              "concat('tag-', g), concat('Label ', g)"));
  CliResult r =
      Run({"--table", "tags", "--set", "slug = lower(replace(label, ' ', '-'))",
           "--chunk-rows", "128", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("tags", "slug", "lower(replace(label, ' ', '-'))"), 0);
}

TEST_P(ShapesTest, UuidKey) {
  db_->Exec(absl::StrCat("CREATE TABLE devices (id ", db_->UuidType(),
                         " PRIMARY KEY, serial INT, serial_text VARCHAR(32))"));
  db_->Exec(db_->InsertSeries("devices", "id, serial", 4000,
                              absl::StrCat(db_->UuidFromG(), ", g")));
  CliResult r =
      Run({"--table", "devices", "--set", "serial_text = concat('SN', serial)",
           "--chunk-rows", "97", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("devices", "serial_text", "concat('SN', serial)"), 0);
}

TEST_P(ShapesTest, CompositeKey) {
  db_->Exec(
      "CREATE TABLE events (tenant INT NOT NULL, seq BIGINT NOT NULL, payload "
      "VARCHAR(64), "
      "payload_v2 VARCHAR(64), PRIMARY KEY (tenant, seq))");
  db_->Exec(db_->InsertSeries("events", "tenant, seq, payload", 6000,
                              "g % 13, g, concat('p', g)"));
  CliResult r =
      Run({"--table", "events", "--set", "payload_v2 = concat(payload, '!')",
           "--chunk-rows", "250", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("events", "payload_v2", "concat(payload, '!')"), 0);
  CliResult status = Command("status", {"--job", "events", "--json"});
  EXPECT_NE(status.out.find("\"rows_walked\":6000"), std::string::npos)
      << status.out;
}

TEST_P(ShapesTest, WhereLimitsTheRowsWritten) {
  db_->Exec(
      "CREATE TABLE accounts (id BIGINT PRIMARY KEY, active INT, email "
      "VARCHAR(64), "
      "email_lower VARCHAR(64))");
  db_->Exec(db_->InsertSeries("accounts", "id, active, email", 5000,
                              "g, g % 2, concat('User', g, '@Example.com')"));
  CliResult r = Run({"--table", "accounts", "--set",
                     "email_lower = lower(email)", "--where", "active = 1",
                     "--chunk-rows", "300", "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("accounts", "email_lower", "lower(email)", "active = 1"),
            0);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM accounts WHERE active = 0 AND "
                          "email_lower IS NOT NULL"),
            0);
}

TEST_P(ShapesTest, EmptyTableIsDoneAtOnce) {
  db_->Exec("CREATE TABLE nothing (id BIGINT PRIMARY KEY, a INT, b INT)");
  CliResult r = Run({"--table", "nothing", "--set", "b = a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CliResult status = Command("status", {"--job", "nothing", "--json"});
  EXPECT_NE(status.out.find("\"state\":\"done\""), std::string::npos)
      << status.out;
}

TEST_P(ShapesTest, AdaptiveChunksGrowTowardTheTarget) {
  db_->Exec("CREATE TABLE wide (id BIGINT PRIMARY KEY, a INT, b INT)");
  db_->Exec(db_->InsertSeries("wide", "id, a", 60000, "g, g"));
  CliResult r = Run({"--table", "wide", "--set", "b = a * 2", "--chunk-rows",
                     "100", "--target-chunk-time", "200ms"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("wide", "b", "a * 2"), 0);
  // 100-row chunks would need 600; growth makes it far fewer.
  EXPECT_LT(db_->QueryInt(
                "SELECT chunks FROM backfill_checkpoints WHERE job = 'wide'"),
            100);
}

BACKFILL_INSTANTIATE_WITH_POOLER(ShapesTest);

}  // namespace
}  // namespace backfill::testing
