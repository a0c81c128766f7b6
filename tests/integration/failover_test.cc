// The primary moves mid-run (README "Poolers, HA and failover"): it goes
// away and a replica is promoted, or it turns read-only. The run reconnects,
// re-reads its checkpoint where it landed, and goes on within --retry-for;
// past it, it fails with the checkpoint intact.
//
// These tests stop, promote or set read-only the dev servers themselves, so
// they run alone (the serial test binary); each puts the usual servers back
// in its own teardown.

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"
#include "tests/integration/pg_test_dsn.h"

namespace backfill::testing {
namespace {

using Clock = std::chrono::steady_clock;

class FailoverTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    postgres_ = db_->kind() == "postgres";
  }

  void TearDown() override {
    if (failed_over_) {
      // Back to the usual pair: the old primary up again, the promoted
      // replica replaced by a fresh clone of it.
      RecloneDevPgReplica();
    }
    if (read_only_) {
      try {
        db_->Exec("SET GLOBAL read_only = 0");
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot turn read_only off again: " << e.what();
      }
    }
    IntegrationTest::TearDown();
  }

  void CreateUsers(int64_t n) {
    db_->Exec(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64))");
    db_->Exec(
        db_->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
  }

  std::vector<std::string> UsersRun(const std::string& dsn,
                                    std::vector<std::string> extra) {
    return UsersRunArgs(dsn, extra);
  }

  // Whether the replica's copy of the scratch database (which it may not
  // even have replayed yet) gets `rows` users within a minute.
  bool ReplicaHas(int64_t rows) {
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < 60) {
      try {
        if (ReplicaSql(*db_, "SELECT count(*) FROM users") ==
            absl::StrCat(rows)) {
          return true;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Chunks of `users` stay put for `seconds`: writes are held.
  void ExpectNoProgressFor(double seconds) {
    const int64_t before = Chunks("users");
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    EXPECT_EQ(Chunks("users"), before)
        << "chunks committed on a read-only primary";
  }

  bool postgres_ = false;
  bool failed_over_ = false;
  bool read_only_ = false;
};

// Two hosts and target_session_attrs=read-write; the primary stops mid-run
// and the replica (also watched as --replica, and by --max-lag-bytes through
// pg_stat_replication) is promoted. libpq finds the new primary, the run
// re-reads its checkpoint there and finishes with exact data on it.
TEST_P(FailoverTest, PostgresPromotedReplicaFinishesTheRun) {
  if (!postgres_) GTEST_SKIP() << "PostgreSQL failover";
  constexpr int64_t kRows = 100000;
  CreateUsers(kRows);
  ASSERT_TRUE(ReplicaHas(kRows)) << "the replica never got the table";
  const std::map<std::string, std::string> primary = PgParams(db_->dsn());
  const std::map<std::string, std::string> replica =
      PgParams(db_->replica_dsn());
  const std::string dsn = absl::StrCat(
      "postgresql://", primary.at("user"), ":", primary.at("password"), "@",
      primary.at("host"), ":", primary.at("port"), ",", replica.at("host"), ":",
      replica.at("port"), "/", primary.at("dbname"),
      "?target_session_attrs=read-write");

  CliProcess run(UsersRun(
      dsn, {"--replica", db_->replica_dsn(), "--max-lag-bytes", "1000000000",
            "--max-rows-per-second", "20000", "--retry-for", "2m"}));
  ASSERT_TRUE(WaitForChunks("users", 20)) << run.StderrSoFar();
  failed_over_ = true;
  DevServer(true, "primary").Stop();
  DevServer(true, "replica").Promote();
  const auto promoted = Clock::now();
  // The --replica signal's session survived the promotion; end it, so that
  // it reconnects to a server that is no standby any more (README: it is
  // read as before, its heartbeat now written there directly).
  EXPECT_NE(ReplicaSql(*db_,
                       "SELECT count(pg_terminate_backend(pid)) FROM "
                       "pg_stat_activity WHERE application_name = "
                       "'backfill-pacer'"),
            "0");
  CliResult r = run.Wait(180);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::printf("[ failover ] the run finished %.1fs after the promotion\n",
              SecondsSince(promoted));
  EXPECT_TRUE(absl::StrContains(r.err, "\"event\":\"retry\"")) << r.err;
  // Exact on the new primary (the old replica), done there.
  EXPECT_EQ(ReplicaSql(*db_,
                       "SELECT count(*) FROM users WHERE login_name IS "
                       "DISTINCT FROM username"),
            "0");
  EXPECT_EQ(
      ReplicaSql(*db_,
                 "SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "done");
}

// A primary that turns read-only (25006; here its database's default, which
// each new session of the engine picks up after its backends are ended):
// writes are retried as "the primary moved" and the run finishes once it
// takes writes again.
TEST_P(FailoverTest, PostgresReadOnlyPrimaryIsRetriedUntilItTakesWrites) {
  if (!postgres_) GTEST_SKIP() << "PostgreSQL read-only transactions";
  CreateUsers(60000);
  const std::string database = PgParams(db_->dsn()).at("dbname");
  CliProcess run(UsersRun(db_->dsn(), {"--max-rows-per-second", "20000",
                                       "--max-lag", "0", "--retry-for", "2m"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  db_->Exec(absl::StrCat("ALTER DATABASE ", database,
                         " SET default_transaction_read_only = on"));
  db_->QueryInt(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
      "datname = current_database() AND application_name LIKE 'backfill%'");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ExpectNoProgressFor(2);
  EXPECT_TRUE(absl::StrContains(run.StderrSoFar(), "the server is read-only"))
      << run.StderrSoFar();
  db_->Exec(absl::StrCat("ALTER DATABASE ", database,
                         " RESET default_transaction_read_only"));
  CliResult r = run.Wait(120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// MariaDB: SET GLOBAL read_only = 1 mid-run holds writes with a clear reason
// (as for a user without READ_ONLY ADMIN, as an application's is), and
// read_only = 0 lets the run finish exact.
TEST_P(FailoverTest, MariadbReadOnlyPrimaryHoldsWritesUntilItTakesWrites) {
  if (postgres_) GTEST_SKIP() << "MariaDB read_only";
  CreateUsers(60000);
  const std::string dsn =
      db_->CreateUpdater("bf_readonly", "Ro-pass-1", "users");
  CliProcess run(
      UsersRun(dsn, {"--max-rows-per-second", "20000", "--retry-for", "2m"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  read_only_ = true;
  db_->Exec("SET GLOBAL read_only = 1");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ExpectNoProgressFor(3);
  const std::string so_far = run.StderrSoFar();
  EXPECT_TRUE(absl::StrContains(
      so_far, "the server is read-only (has the primary moved?)"))
      << so_far;
  EXPECT_TRUE(absl::StrContains(so_far, "\"event\":\"retry\"")) << so_far;
  db_->Exec("SET GLOBAL read_only = 0");
  read_only_ = false;
  CliResult r = run.Wait(120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// A primary that stays read-only past --retry-for: exit 1, the checkpoint
// intact (data and checkpoint agree), and a rerun once it takes writes
// finishes the job.
TEST_P(FailoverTest, MariadbReadOnlyPastRetryForFailsWithTheCheckpointIntact) {
  if (postgres_) GTEST_SKIP() << "MariaDB read_only";
  CreateUsers(60000);
  const std::string dsn =
      db_->CreateUpdater("bf_readonly", "Ro-pass-1", "users");
  CliProcess run(
      UsersRun(dsn, {"--max-rows-per-second", "20000", "--retry-for", "3s"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  read_only_ = true;
  db_->Exec("SET GLOBAL read_only = 1");
  CliResult r = run.Wait(60);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "read-only")) << r.err;
  const int64_t last =
      ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
  EXPECT_GT(last, 0);
  EXPECT_LT(last, 60000);
  db_->Exec("SET GLOBAL read_only = 0");
  read_only_ = false;
  CliResult again = RunCli(UsersRun(dsn, {}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

BACKFILL_INSTANTIATE(FailoverTest);

}  // namespace
}  // namespace backfill::testing
