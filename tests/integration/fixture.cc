#include "tests/integration/fixture.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/pool_check.h"

namespace backfill::testing {

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

void IntegrationTest::SetUp() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  // BACKFILL_TEST_DB_PREFIX keeps concurrent runs of the suite (say, a CI
  // check beside a developer's run) out of each other's scratch databases.
  const char* prefix = std::getenv("BACKFILL_TEST_DB_PREFIX");
  std::string name = absl::StrCat(prefix != nullptr ? prefix : "bf_",
                                  info->test_suite_name(), "_", info->name());
  std::string clean;
  for (char c : name) {
    clean.push_back(
        std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_');
  }
  if (clean.size() > 60) clean = clean.substr(clean.size() - 60);
  if (!std::isalpha(static_cast<unsigned char>(clean[0]))) clean[0] = 'b';
  db_ = TestDb::Create(GetParam(), clean);
}

void IntegrationTest::TearDown() {
  if (db_ == nullptr || !db_->pooled() || !check_pool_ || IsSkipped()) return;
  const int checked = ExpectPoolIsClean(db_->dsn(), db_->direct_dsn());
  EXPECT_GT(checked, 0) << "PgBouncer keeps no server connection for this "
                           "database: did the engine connect through it?";
  RecordProperty("pool_connections_checked", checked);
}

CliResult IntegrationTest::Run(const std::vector<std::string>& args,
                               const std::vector<std::string>& env) {
  std::vector<std::string> full = {"run", "--dsn", db_->dsn(), "--log-format",
                                   "text"};
  full.insert(full.end(), args.begin(), args.end());
  return RunCli(full, env);
}

CliResult IntegrationTest::Command(const std::string& command,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> full = {command, "--dsn", db_->dsn()};
  full.insert(full.end(), args.begin(), args.end());
  return RunCli(full);
}

int64_t IntegrationTest::Mismatches(const std::string& table,
                                    const std::string& column,
                                    const std::string& expr,
                                    const std::string& where) {
  return db_->QueryInt(
      absl::StrCat("SELECT count(*) FROM ", table, " WHERE (CASE WHEN ", column,
                   " IS NULL AND (", expr, ") IS NULL THEN 0 WHEN ", column,
                   " IS NULL OR (", expr, ") IS NULL THEN 1 WHEN ", column,
                   " = (", expr, ") THEN 0 ELSE 1 END) = 1",
                   where.empty() ? "" : absl::StrCat(" AND (", where, ")")));
}

int64_t IntegrationTest::ExpectDataMatchesCheckpoint(const std::string& job,
                                                     const std::string& table,
                                                     const std::string& column,
                                                     const std::string& expr) {
  auto last_id = [&]() -> int64_t {
    if (!db_->TableExists("backfill_checkpoints")) return 0;
    std::optional<std::string> last = db_->Query(absl::StrCat(
        "SELECT last_key FROM backfill_checkpoints WHERE job = '", job, "'"));
    return last.has_value() ? std::stoll(last->substr(2)) : 0;  // ["123"]
  };
  for (int attempt = 0;; ++attempt) {
    const int64_t before = last_id();
    const int64_t behind =
        Mismatches(table, column, expr, absl::StrCat("id <= ", before));
    const int64_t ahead =
        db_->QueryInt(absl::StrCat("SELECT count(*) FROM ", table, " WHERE ",
                                   column, " IS NOT NULL AND id > ", before));
    if (last_id() != before && attempt < 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    EXPECT_EQ(behind, 0) << "rows up to the checkpoint (" << before
                         << ") are wrong";
    EXPECT_EQ(ahead, 0) << "rows past the checkpoint (" << before
                        << ") were committed without it";
    return before;
  }
}

std::vector<std::string> IntegrationTest::UsersRunArgs(
    const std::string& dsn, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"run",
                                   "--dsn",
                                   dsn,
                                   "--table",
                                   "users",
                                   "--set",
                                   "login_name = username",
                                   "--chunk-rows",
                                   "500",
                                   "--target-chunk-time",
                                   "0",
                                   "--log-format",
                                   "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

int64_t IntegrationTest::Chunks(const std::string& job) {
  try {
    if (!db_->TableExists("backfill_checkpoints")) return 0;
    std::optional<std::string> n = db_->Query(absl::StrCat(
        "SELECT chunks FROM backfill_checkpoints WHERE job = '", job, "'"));
    int64_t v = 0;
    return n.has_value() && absl::SimpleAtoi(*n, &v) ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

bool IntegrationTest::WaitForChunks(const std::string& job, int64_t chunks,
                                    double seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Chunks(job) >= chunks) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void IntegrationTest::CreateUsersTable(int64_t n) {
  db_->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db_->Exec(
      db_->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
}

void IntegrationTest::CreateRepoStar(int64_t n) {
  db_->Exec(
      "CREATE TABLE repo (id BIGINT PRIMARY KEY, repo_name VARCHAR(100) NOT "
      "NULL UNIQUE, "
      "organization VARCHAR(100), star_count INT)");
  db_->Exec(
      "CREATE TABLE star (id BIGINT PRIMARY KEY, repo_name VARCHAR(100) NOT "
      "NULL UNIQUE, "
      "organization VARCHAR(100), star_count INT)");
  db_->Exec(db_->InsertSeries("repo", "id, repo_name, organization", n,
                              "g, concat('repo-', g), concat('org-', g % 97)"));
  // star ids run backwards, so the join really matches on repo_name.
  db_->Exec(db_->InsertSeries(
      "star", "id, repo_name, organization, star_count", n,
      absl::StrCat(n + 1,
                   " - g, concat('repo-', g), concat('org-', g % 97), "
                   "(g * 37) % 1000")));
}

}  // namespace backfill::testing
