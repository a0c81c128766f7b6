#ifndef BACKFILL_TESTS_INTEGRATION_FIXTURE_H_
#define BACKFILL_TESTS_INTEGRATION_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/test_db.h"

namespace backfill::testing {

// Base of every integration test: parameterised by database kind, each test
// in its own scratch database on the real dev server.
class IntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  // Through a pooler (the "pgbouncer" kind): checks that no server
  // connection of the pool carries anything the engine set
  // (ExpectPoolIsClean).
  void TearDown() override;

  // `backfill run --dsn <scratch> --log-format text <args>`.
  CliResult Run(const std::vector<std::string>& args,
                const std::vector<std::string>& env = {});
  // `backfill <command> --dsn <scratch> <args>` for status/pause/resume.
  CliResult Command(const std::string& command,
                    const std::vector<std::string>& args);

  // Rows of `table` where `column` differs from `expr` (NULL-safe), using
  // only portable SQL.
  int64_t Mismatches(const std::string& table, const std::string& column,
                     const std::string& expr, const std::string& where = "");

  // Checks that `table` matches the committed checkpoint of `job` exactly:
  // every row with id <= last_key has column == expr, and no row past it has
  // column set. A killed client's COMMIT can still land on the server between
  // two reads; it moves data and checkpoint together, so the checkpoint is
  // read before and after the data and the check repeats until it held
  // still. Returns the checkpoint's last id (0 before the first chunk).
  int64_t ExpectDataMatchesCheckpoint(const std::string& job,
                                      const std::string& table,
                                      const std::string& column,
                                      const std::string& expr);

  // `backfill run` of the users table's column shape (login_name =
  // username) on `dsn`, in fixed 500-row chunks with JSON logs, then `extra`.
  static std::vector<std::string> UsersRunArgs(
      const std::string& dsn, const std::vector<std::string>& extra);

  // Chunks committed so far by `job` (its checkpoint row); 0 before the
  // checkpoint table or row exists, and while the server cannot be read (a
  // test may be restarting it).
  int64_t Chunks(const std::string& job);
  // Waits up to `seconds` for `job` to reach `chunks` committed chunks.
  bool WaitForChunks(const std::string& job, int64_t chunks,
                     double seconds = 60);

  // The walkthrough's repo/star tables with `n` repos; star_count differs
  // between the two (repo.star_count NULL).
  void CreateRepoStar(int64_t n);
  // users(id, username = 'user<id>', login_name NULL) with `n` rows: the
  // column shape's table (login_name = username).
  void CreateUsersTable(int64_t n);

  std::unique_ptr<TestDb> db_;
  // TearDown's pool check; a test that connects as other users checks
  // their pools itself.
  bool check_pool_ = true;
};

// For tests that load libbackfill.so into a program built without the
// sanitizer it was built with (an example compiled against the installed
// package, python3): the sanitizer's runtime must come first in such a
// program and does not, so under `scripts/test --sanitize` they skip and the
// plain run covers them. BACKFILL_SANITIZED is set for the test target that
// holds them (tests/integration/CMakeLists.txt).
class UninstrumentedHostTest : public IntegrationTest {
 protected:
  void SetUp() override {
#ifdef BACKFILL_SANITIZED
    GTEST_SKIP() << "not under -fsanitize=" BACKFILL_SANITIZED;
#endif
    IntegrationTest::SetUp();
  }
};

std::string ParamName(const ::testing::TestParamInfo<std::string>& info);

}  // namespace backfill::testing

// Also through the dev PgBouncer in transaction mode ("pgbouncer"), with the
// pool checked after each test.
#define BACKFILL_INSTANTIATE_WITH_POOLER(Suite)                            \
  INSTANTIATE_TEST_SUITE_P(                                                \
      Db, Suite,                                                           \
      ::testing::ValuesIn(::backfill::testing::TestDb::KindsWithPooler()), \
      ::backfill::testing::ParamName)

#define BACKFILL_INSTANTIATE(Suite)                                         \
  INSTANTIATE_TEST_SUITE_P(                                                 \
      Db, Suite, ::testing::ValuesIn(::backfill::testing::TestDb::Kinds()), \
      ::backfill::testing::ParamName)

#endif  // BACKFILL_TESTS_INTEGRATION_FIXTURE_H_
