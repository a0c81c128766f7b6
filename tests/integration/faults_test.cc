// Fault injection on the dev databases (issue 7): the primary restarted
// mid-run, the engine's backends terminated, the replica stopped and started,
// kill -9 at 20 random points of one run, the target column dropped mid-run.
// Each run either finishes with exact data or stops with exit 1 and an intact
// checkpoint.
//
// These tests restart the shared servers, so they live in the serial suite,
// and TearDown always brings every server back.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/dsn.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs `argv` (no shell), returning its stdout; throws with its stderr when
// it fails. Only fds 1 and 2 reach the child, so a server it starts does not
// hold our pipes open.
std::string Capture(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  auto drain = [](int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, n);
    close(fd);
    return s;
  };
  std::string stdout_text = drain(out[0]);
  std::string stderr_text = drain(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(absl::StrCat(argv[0], " failed: ", stderr_text));
  }
  return std::string(absl::StripAsciiWhitespace(stdout_text));
}

std::string DevDbDir() {
  const char* dir = std::getenv("BACKFILL_DEV_DB_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp/backfill-dev-db";
}

constexpr char kPgCtl[] = "/usr/lib/postgresql/15/bin/pg_ctl";

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
      EnsureRunning("primary");
      EnsureRunning("replica");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not restore the servers: " << e.what();
    }
  }

  // "primary" or "replica": the dev-db directory of this test's kind.
  std::string Dir(const std::string& which) const {
    return absl::StrCat(DevDbDir(), postgres_ ? "/pg-" : "/my-", which);
  }
  std::string Socket(const std::string& which) const {
    return Dir(which) + "/mysqld.sock";
  }

  bool Running(const std::string& which) const {
    try {
      if (postgres_) {
        Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(which),
                 "status"});
      } else {
        Capture(
            {"mariadb-admin", "--socket=" + Socket(which), "-uroot", "ping"});
      }
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  void Stop(const std::string& which) {
    if (postgres_) {
      Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(which),
               "-m", "fast", "-w", "stop"});
    } else {
      Capture(
          {"mariadb-admin", "--socket=" + Socket(which), "-uroot", "shutdown"});
    }
  }

  // Starts the server the way scripts/dev-db does, and waits for it.
  void Start(const std::string& which) {
    if (postgres_) {
      Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(which),
               "-l", Dir(which) + "/server.log", "-w", "-t", "60", "start"});
      return;
    }
    Capture({"runuser", "-u", "mysql", "--", "sh", "-c",
             absl::StrCat("nohup mariadbd --defaults-file='", Dir(which),
                          "/my.cnf' >>'", Dir(which),
                          "/server.log' 2>&1 </dev/null &")});
    const auto t0 = Clock::now();
    while (!Running(which)) {
      if (SecondsSince(t0) > 60) {
        throw std::runtime_error("MariaDB " + which + " did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  void EnsureRunning(const std::string& which) {
    if (!Running(which)) Start(which);
  }

  void RestartPrimary() {
    if (postgres_) {
      Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir("primary"),
               "-l", Dir("primary") + "/server.log", "-m", "fast", "-w", "-t",
               "60", "restart"});
      return;
    }
    Stop("primary");
    // mariadb-admin shutdown returns before the server is gone.
    const auto t0 = Clock::now();
    while (Running("primary") && SecondsSince(t0) < 60) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Start("primary");
  }

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
    std::vector<std::string> args = {"run",
                                     "--dsn",
                                     db_->dsn(),
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

  int64_t Chunks(const std::string& job = "users") {
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

  bool WaitForChunks(int64_t chunks, double seconds = 60) {
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < seconds) {
      if (Chunks() >= chunks) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The fixture's connection after a primary restart.
  void Reconnect() { db_ = db_->Connect(); }

  std::string ReplicaName() {
    absl::StatusOr<Dsn> dsn = ParseDsn(db_->replica_dsn());
    return absl::StrCat("replication_lag replica=", dsn->host, ":", dsn->port);
  }

  // Waits until the replica has the scratch table's rows.
  void WaitForReplica(int64_t rows) {
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < 60) {
      try {
        absl::StatusOr<Dsn> dsn = ParseDsn(db_->replica_dsn());
        std::string count =
            postgres_ ? Capture({"psql", dsn->ToUri(), "-X", "-A", "-t", "-c",
                                 "SELECT count(*) FROM users"})
                      : Capture({"mysql", "-h", dsn->host, "-P",
                                 absl::StrCat(dsn->port), "-u", dsn->user,
                                 absl::StrCat("-p", dsn->password.value_or("")),
                                 "-D", dsn->database, "-N", "-B", "-e",
                                 "SELECT count(*) FROM users"});
        if (count == absl::StrCat(rows)) {
          if (postgres_) {
            Capture({"psql", dsn->ToUri(), "-X", "-A", "-t", "-c",
                     "CHECKPOINT"});  // so that stopping it is quick
          }
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
    ASSERT_FALSE(p.Exited()) << "finished before kill " << i << ":\n" << p.StderrSoFar();
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

BACKFILL_INSTANTIATE(FaultsTest);

}  // namespace
}  // namespace backfill::testing
