// Fault injection on the dev databases (issue 7): the primary restarted
// mid-run, the engine's backends terminated, the replica stopped and started,
// kill -9 at 20 random points of one run, the target column dropped mid-run,
// UPDATE revoked mid-run, a replica connection gone silent.
// Each run either finishes with exact data or stops with exit 1 and an intact
// checkpoint.
//
// These tests restart the shared servers, so they live in the serial suite,
// and TearDown always brings every server back.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backfill/engine/dsn.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"
#include "tests/integration/freezing_proxy.h"
#include "tests/integration/pg_test_dsn.h"

namespace backfill::testing {
namespace {

using Clock = std::chrono::steady_clock;

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t i = text.find(needle); i != std::string::npos;
       i = text.find(needle, i + 1)) {
    ++n;
  }
  return n;
}

class FaultsTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    postgres_ = db_->kind() == "postgres";
  }

  // Whatever happened, every server runs again for the next test.
  void TearDown() override {
    try {
      Server("primary").EnsureRunning();
      Server("replica").EnsureRunning();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not restore the servers: " << e.what();
    }
  }

  DevServer Server(const std::string& which) const {
    return DevServer(postgres_, which);
  }
  void Stop(const std::string& which) { Server(which).Stop(); }
  void Start(const std::string& which) { Server(which).Start(); }
  void RestartPrimary() { Server("primary").Restart(); }

  // Terminates every connection of the engine (and its pacer) to the scratch
  // database; returns how many.
  int64_t TerminateEngineBackends() {
    if (postgres_) {
      return db_->QueryInt(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
          "WHERE application_name LIKE 'backfill%' AND pid <> "
          "pg_backend_pid()");
    }
    absl::StatusOr<Dsn> dsn = ParseDsn(db_->dsn());
    std::vector<std::string> ids;
    // The fixture's own connection is the only other one on the scratch db.
    std::optional<std::string> list = db_->Query(absl::StrCat(
        "SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST WHERE "
        "DB = '",
        dsn->database, "' AND ID <> CONNECTION_ID()"));
    int64_t n = 0;
    for (absl::string_view id : absl::StrSplit(list.value_or(""), ',')) {
      if (id.empty()) continue;
      try {
        db_->Exec(absl::StrCat("KILL CONNECTION ", id));
        ++n;
      } catch (const std::exception&) {
        // It ended by itself in the meantime.
      }
    }
    return n;
  }

  void CreateUsers(int64_t n, bool second_column = false) {
    db_->Exec(absl::StrCat(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64)",
        second_column ? ", login2 VARCHAR(64)" : "", ")"));
    db_->Exec(
        db_->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
  }

  std::vector<std::string> UsersRun(std::vector<std::string> extra) {
    return UsersRunArgs(db_->dsn(), extra);
  }

  int64_t Chunks() { return IntegrationTest::Chunks("users"); }
  bool WaitForChunks(int64_t chunks, double seconds = 60) {
    return IntegrationTest::WaitForChunks("users", chunks, seconds);
  }

  // The port of a dev server's DSN.
  int PortOf(const std::string& dsn) const {
    if (postgres_) return std::stoi(PgParams(dsn)["port"]);
    absl::StatusOr<Dsn> parsed = ParseDsn(dsn);
    if (!parsed.ok()) throw std::runtime_error(parsed.status().ToString());
    return parsed->port;
  }

  // `dsn` with its host and port replaced by a proxy's on 127.0.0.1.
  std::string ThroughProxy(const std::string& dsn, int port) const {
    if (postgres_) {
      return PgUri(dsn, {{"host", "127.0.0.1"}, {"port", absl::StrCat(port)}});
    }
    absl::StatusOr<Dsn> parsed = ParseDsn(dsn);
    if (!parsed.ok()) throw std::runtime_error(parsed.status().ToString());
    parsed->host = "127.0.0.1";
    parsed->port = port;
    return parsed->ToUri();
  }

  // The fixture's connection after a primary restart.
  void Reconnect() { db_ = db_->Connect(); }

  std::string ReplicaName() {
    if (postgres_) {
      return absl::StrCat("replication_lag replica=",
                          PgHostPort(db_->replica_dsn()));
    }
    absl::StatusOr<Dsn> dsn = ParseDsn(db_->replica_dsn());
    return absl::StrCat("replication_lag replica=", dsn->host, ":", dsn->port);
  }

  // Waits until the replica has the scratch table's rows.
  void WaitForReplica(int64_t rows) {
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < 60) {
      try {
        if (ReplicaSql(*db_, "SELECT count(*) FROM users") ==
            absl::StrCat(rows)) {
          // So that stopping the replica is quick.
          if (postgres_) ReplicaSql(*db_, "CHECKPOINT");
          return;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the replica never got the table";
  }

  bool postgres_ = false;
};

TEST_P(FaultsTest, PrimaryRestartMidRunReconnectsAndFinishesExact) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  CliProcess run(UsersRun({"--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(10)) << run.StderrSoFar();
  const auto t0 = Clock::now();
  RestartPrimary();
  std::printf("[ faults ] %s primary restarted in %.1fs\n", db_->kind().c_str(),
              SecondsSince(t0));
  Reconnect();
  CliResult r = run.Wait(180);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  EXPECT_NE(r.err.find("\"event\":\"retry\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"reason\":\"connection_lost\""), std::string::npos)
      << r.err;
  EXPECT_EQ(db_->Query("SELECT state FROM backfill_checkpoints WHERE job = "
                       "'users'"),
            "done");
}

TEST_P(FaultsTest, BackendsTerminatedTwiceMidRunAreRetried) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  CliProcess run(UsersRun({"--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(10)) << run.StderrSoFar();
  EXPECT_GT(TerminateEngineBackends(), 0);
  const int64_t after_first = Chunks();
  ASSERT_TRUE(WaitForChunks(after_first + 10)) << run.StderrSoFar();
  EXPECT_GT(TerminateEngineBackends(), 0);
  CliResult r = run.Wait(180);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  EXPECT_GE(Count(r.err, "\"reason\":\"connection_lost\""), 2) << r.err;
  EXPECT_NE(r.err.find("\"retries\":"), std::string::npos) << r.err;
}

TEST_P(FaultsTest, StoppedReplicaHoldsWritesUntilItIsBack) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  WaitForReplica(kRows);
  CliProcess run(UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s",
                           "--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(5)) << run.StderrSoFar();
  Stop("replica");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const int64_t held_at = Chunks();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Chunks(), held_at) << "writes went on with the replica down";
  EXPECT_NE(run.StderrSoFar().find(absl::StrCat(ReplicaName(), " unreadable")),
            std::string::npos)
      << run.StderrSoFar();
  ASSERT_FALSE(run.Exited()) << run.StderrSoFar();
  const auto t_start = Clock::now();
  Start("replica");
  ASSERT_TRUE(WaitForChunks(held_at + 1, 60)) << "writes never resumed";
  std::printf("[ faults ] writes resumed %.1fs after the replica started\n",
              SecondsSince(t_start));
  CliResult r = run.Wait(180);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// A replica connection that goes silent mid-run (black-holed network, hung
// proxy): the server's statement timeout cannot help, since its error never
// arrives. The lag signal's client-side bound (MySQL's read timeout, the
// PostgreSQL session's SilenceWatchdog) turns the silence into a lost
// connection, so writes hold (fail closed), the signal reconnects, and the
// run finishes. Without the bound, the poller blocks for good, writes stay
// held on a stale reading, and the run never ends.
TEST_P(FaultsTest, SilentReplicaConnectionIsDroppedAndRedialled) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  WaitForReplica(kRows);
  FreezingProxy proxy(PortOf(db_->replica_dsn()));
  CliProcess run(
      UsersRun({"--replica", ThroughProxy(db_->replica_dsn(), proxy.port()),
                "--max-lag", "1s", "--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(5)) << run.StderrSoFar();
  proxy.Freeze();
  const auto t_frozen = Clock::now();
  CliResult r = run.Wait(60);
  ASSERT_EQ(r.exit_code, 0)
      << "the run did not get past the silent replica: " << r.err;
  std::printf("[ faults ] the run ended %.1fs after the replica went silent\n",
              SecondsSince(t_frozen));
  EXPECT_NE(r.err.find(" unreadable"), std::string::npos) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// The copier's own connection to the primary going silent mid-run, most
// likely inside a chunk's transaction (chunks run back to back). The
// client-side bound (--statement-timeout plus 5s: PostgreSQL's watchdog,
// MySQL's read timeout) turns the silence into a lost connection; the run
// redials, and the server ends the abandoned transaction, locks and all,
// once it has sat idle for the statement timeout
// (idle_in_transaction_session_timeout, MariaDB idle_transaction_timeout),
// so the redone chunk is not locked out. Without the bound the copier waits
// for good and the run never ends.
TEST_P(FaultsTest, SilentPrimaryConnectionIsDroppedAndRedialled) {
  constexpr int64_t kRows = 300000;
  CreateUsers(kRows);
  FreezingProxy proxy(PortOf(db_->dsn()));
  std::vector<std::string> args =
      UsersRunArgs(ThroughProxy(db_->dsn(), proxy.port()),
                   {"--statement-timeout", "2s", "--max-commit-latency", "0"});
  *(std::find(args.begin(), args.end(), "--chunk-rows") + 1) = "5000";
  CliProcess run(args);
  ASSERT_TRUE(WaitForChunks(5)) << run.StderrSoFar();
  proxy.Freeze();
  const int64_t frozen_at = Chunks();
  const auto t_frozen = Clock::now();
  CliResult r = run.Wait(90);
  ASSERT_EQ(r.exit_code, 0)
      << "the run did not get past the silent primary: " << r.err;
  std::printf(
      "[ faults ] frozen after %lld chunks; the run ended %.1fs later\n",
      static_cast<long long>(frozen_at), SecondsSince(t_frozen));
  EXPECT_NE(r.err.find("connection_lost"), std::string::npos) << r.err;
  if (postgres_) {
    EXPECT_NE(r.err.find("no answer from the server within 7s"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(FaultsTest, IgnoreUnreachableReplicasProceedsLoudly) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  WaitForReplica(kRows);
  CliProcess run(UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s",
                           "--ignore-unreachable-replicas", "1",
                           "--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(5)) << run.StderrSoFar();
  Stop("replica");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const int64_t at = Chunks();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_GT(Chunks(), at) << "writes held although the replica is ignored";
  CliResult r = run.Wait(180);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  EXPECT_NE(r.err.find("\"event\":\"warning\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(absl::StrCat(ReplicaName(), " unreadable")),
            std::string::npos)
      << r.err;
  Start("replica");
}

TEST_P(FaultsTest, KillNineAtTwentyRandomPointsOfOneRun) {
  // Enough chunks that twenty kills never reach the end: a 500-row chunk
  // takes a few milliseconds, so a run does dozens between two kills.
  constexpr int64_t kRows = 400000;
  constexpr int64_t kChunk = 500;
  constexpr int kKills = 20;
  CreateUsers(kRows);
  const int64_t updated_before = db_->RowsUpdated("users");
  const std::vector<std::string> args = UsersRun({});
  std::mt19937 rng(std::random_device{}());
  const auto t0 = Clock::now();
  int kills = 0;
  for (int i = 0; i < kKills; ++i) {
    const int64_t chunks = Chunks();
    CliProcess p(args);
    if (rng() % 5 == 0) {
      // Anywhere in start-up: connecting, validating, the first chunk.
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    } else {
      // A few chunks in, at a random instant within a chunk.
      WaitForChunks(chunks + 1 + rng() % 6, 30);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    }
    ASSERT_FALSE(p.Exited()) << "finished before kill " << i << ":\n"
                             << p.StderrSoFar();
    p.Signal(SIGKILL);
    CliResult r = p.Wait();
    ASSERT_EQ(r.exit_code, -SIGKILL);
    ++kills;
    ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
    if (HasFailure()) return;
  }
  CliResult final_run = RunCli(args);
  ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
  std::printf("[ faults ] %d kills and the final run took %.1fs\n", kills,
              SecondsSince(t0));
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  const int64_t rewritten = db_->RowsUpdated("users") - updated_before;
  EXPECT_GE(rewritten, kRows);
  EXPECT_LE(rewritten, kRows + kills * kChunk) << kills << " kills";
}

TEST_P(FaultsTest, ColumnDroppedMidRunFailsWithCheckpointIntact) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows, /*second_column=*/true);
  CliProcess run(UsersRun(
      {"--set", "login2 = username", "--max-rows-per-second", "10000"}));
  ASSERT_TRUE(WaitForChunks(10)) << run.StderrSoFar();
  db_->Exec("ALTER TABLE users DROP COLUMN login2");
  CliResult r = run.Wait(120);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("login2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"event\":\"error\""), std::string::npos) << r.err;
  EXPECT_EQ(
      db_->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "failed");
  std::optional<std::string> last = db_->Query(
      "SELECT last_key FROM backfill_checkpoints WHERE job = 'users'");
  ASSERT_TRUE(last.has_value());
  const int64_t last_id = std::stoll(last->substr(2));
  EXPECT_GT(last_id, 0);
  EXPECT_EQ(last_id,
            db_->QueryInt("SELECT rows_walked FROM backfill_checkpoints "
                          "WHERE job = 'users'"));
  // Exactly the checkpointed rows are written.
  EXPECT_EQ(Mismatches("users", "login_name", "username",
                       absl::StrCat("id <= ", last_id)),
            0);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), kRows - last_id);
}

// UPDATE revoked mid-run: the next chunk fails with the server's "permission
// denied" / "command denied" (exit 1), nothing is retried, and the
// checkpoint (state failed) holds exactly the rows written before.
TEST_P(FaultsTest, PermissionRevokedMidRunFailsWithCheckpointIntact) {
  constexpr int64_t kRows = 60000;
  CreateUsers(kRows);
  std::vector<std::string> args = UsersRun({"--max-rows-per-second", "10000"});
  args[2] = db_->CreateUpdater("backfill_updater", "updater-pw", "users");
  CliProcess run(args);
  ASSERT_TRUE(WaitForChunks(10)) << run.StderrSoFar();
  db_->RevokeUpdate("backfill_updater", "users");
  CliResult r = run.Wait(120);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("retrying in"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("updater-pw"), std::string::npos) << r.err;
  EXPECT_EQ(
      db_->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "failed");
  const int64_t last_id =
      ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
  // Ten chunks of at least 100 rows: under a rate, MySQL's chunks cover a
  // hundredth of a second of it (100 rows at 10k rows/s).
  EXPECT_GE(last_id, 10 * 100);
  EXPECT_LT(last_id, kRows);
}

BACKFILL_INSTANTIATE(FaultsTest);

}  // namespace
}  // namespace backfill::testing
