// Pacing with real lag on the dev databases (docs/DESIGN.md "Pacing"): replay
// is paused on the replica (PostgreSQL pg_wal_replay_pause, MariaDB STOP SLAVE
// SQL_THREAD) in the middle of a run with --max-lag 1s; writes stop within
// about a second of the lag passing 1s, resume when the replica catches up,
// and the data is exact. Also: a slow probe holds writes, a stopped replica
// holds writes until it is back, and --critical-lag exits 4 with the
// checkpoint intact.
//
// These tests pause or stop the shared replicas, so they live in the serial
// suite, and TearDown always puts the replicas back.

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backfill/backfill.h"
#include "backfill/engine/dsn.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"
#include "tests/integration/pg_test_dsn.h"

namespace backfill::testing {
namespace {

using Clock = std::chrono::steady_clock;

class ThrottleTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    postgres_ = db_->kind() == "postgres";
  }

  // Whatever happened, the replicas replay and run again for the next test.
  void TearDown() override {
    try {
      if (postgres_) {
        if (stopped_replica_) StartPgReplica();
        if (paused_) ReplicaSql("SELECT pg_wal_replay_resume()");
      } else if (paused_) {
        ReplicaSql("START SLAVE SQL_THREAD");
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not restore the replica: " << e.what();
    }
  }

  std::string ReplicaSql(const std::string& sql) {
    return testing::ReplicaSql(*db_, sql);
  }

  void PauseReplay() {
    paused_ = true;
    ReplicaSql(postgres_ ? "SELECT pg_wal_replay_pause()"
                         : "STOP SLAVE SQL_THREAD");
  }
  void ResumeReplay() {
    ReplicaSql(postgres_ ? "SELECT pg_wal_replay_resume()"
                         : "START SLAVE SQL_THREAD");
    paused_ = false;
  }

  void StopPgReplica() {
    // A standby finishes its restartpoint in progress before a fast shutdown
    // completes, which after a lot of WAL can take minutes: finish it now,
    // unthrottled.
    ReplicaSql("CHECKPOINT");
    stopped_replica_ = true;
    DevServer(true, "replica").Stop();
  }
  void StartPgReplica() {
    DevServer(true, "replica").EnsureRunning();
    stopped_replica_ = false;
  }

  // The replica's lag behind the job's heartbeat row, in seconds; nullopt
  // when it cannot be read.
  std::optional<double> ReplicaLag(const std::string& job) {
    try {
      std::string v = ReplicaSql(
          postgres_
              ? absl::StrCat(
                    "SELECT extract(epoch FROM clock_timestamp() - ts) "
                    "FROM backfill_heartbeat WHERE job = '",
                    job, "'")
              : absl::StrCat("SELECT TIMESTAMPDIFF(MICROSECOND, ts, "
                             "UTC_TIMESTAMP(6)) / 1e6 FROM backfill_heartbeat "
                             "WHERE job = '",
                             job, "'"));
      double lag = 0;
      if (absl::SimpleAtod(v, &lag)) return lag;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }

  // Waits up to `seconds` for `text` to appear in the process's stderr.
  static bool WaitForStderr(CliProcess& p, const std::string& text,
                            double seconds) {
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < seconds) {
      if (p.StderrSoFar().find(text) != std::string::npos) return true;
      if (p.Exited()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return p.StderrSoFar().find(text) != std::string::npos;
  }

  // users(id, username, login_name NULL) with n rows, replicated.
  void CreateUsers(int64_t n) {
    db_->Exec(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64))");
    db_->Exec(
        db_->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < 60) {
      try {
        if (ReplicaSql("SELECT count(*) FROM users") == absl::StrCat(n)) return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the replica never caught up with the new table";
  }

  std::vector<std::string> UsersRun(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run",
                                     "--dsn",
                                     db_->dsn(),
                                     "--table",
                                     "users",
                                     "--set",
                                     "login_name = username",
                                     "--log-format",
                                     "text"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string ReplicaName() {
    if (postgres_) {
      return absl::StrCat("replication_lag replica=",
                          PgHostPort(db_->replica_dsn()));
    }
    absl::StatusOr<Dsn> dsn = ParseDsn(db_->replica_dsn());
    return absl::StrCat("replication_lag replica=", dsn->host, ":", dsn->port);
  }

  bool postgres_ = false;
  bool paused_ = false;
  bool stopped_replica_ = false;
};

// The brief's headline test: pause replay mid-run with --max-lag 1s.
TEST_P(ThrottleTest, ReplicaLagOverMaxLagHoldsWritesUntilTheReplicaCatchesUp) {
  constexpr int64_t kRows = 200000;
  CreateUsers(kRows);
  CliProcess run(UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s",
                           "--chunk-rows", "500", "--target-chunk-time", "0",
                           "--max-rows-per-second", "20000"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();

  PauseReplay();
  const auto t0 = Clock::now();  // replay paused
  int64_t chunks = Chunks("users");
  double lag_passed_1s = -1, last_advance = 0, max_lag = 0;
  while (SecondsSince(t0) < 5) {
    std::optional<double> lag = ReplicaLag("users");
    const int64_t now_chunks = Chunks("users");
    const double t = SecondsSince(t0);
    if (now_chunks > chunks) last_advance = t;
    chunks = now_chunks;
    if (lag.has_value()) max_lag = std::max(max_lag, *lag);
    if (lag.has_value() && *lag >= 1.0 && lag_passed_1s < 0) lag_passed_1s = t;
  }
  const int64_t held_at = Chunks("users");
  std::printf(
      "[ throttle ] %s: replay paused at 0s; lag passed 1s at %.2fs; last "
      "chunk "
      "committed at %.2fs (%+.2fs after the lag passed 1s); lag reached %.2fs; "
      "chunks held at %lld\n",
      db_->kind().c_str(), lag_passed_1s, last_advance,
      last_advance - lag_passed_1s, max_lag, static_cast<long long>(held_at));
  ASSERT_GT(lag_passed_1s, 0) << "the replica's lag never reached 1s";
  // Writes went on after replay paused (the throttle was not simply on).
  // They may stop before the lag itself reaches 1s: with replay stopped the
  // lag rises one second per second, and its forecast (LagTrend) reaches the
  // limit first.
  EXPECT_GT(last_advance, 0.1) << "writes stopped before any lag";
  EXPECT_LE(last_advance, lag_passed_1s + 1.0)
      << "writes went on more than a second after the lag passed 1s";
  EXPECT_LT(held_at * 500, kRows) << "the run finished before it could be held";
  ASSERT_FALSE(run.Exited()) << run.StderrSoFar();
  const std::string log = run.StderrSoFar();
  const size_t on =
      log.find(absl::StrCat("throttle=on reason=\"", ReplicaName(), " "));
  ASSERT_NE(on, std::string::npos) << log;
  EXPECT_NE(log.substr(on, log.find('\n', on) - on).find(" > 1s\""),
            std::string::npos)
      << log;

  ResumeReplay();
  const auto t1 = Clock::now();
  ASSERT_TRUE(WaitForChunks("users", held_at + 1, 10))
      << "writes never resumed";
  std::printf("[ throttle ] %s: writes resumed %.2fs after replay resumed\n",
              db_->kind().c_str(), SecondsSince(t1));
  CliResult r = run.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("throttle=off"), std::string::npos) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  EXPECT_EQ(
      db_->QueryInt(
          "SELECT rows_walked FROM backfill_checkpoints WHERE job = 'users'"),
      kRows);
}

// The operator's notes a run tells its observer (OnNote).
class Notes : public Observer {
 public:
  void OnNote(const std::string& message) override { lines.push_back(message); }
  std::vector<std::string> lines;
};

// A job runner paces through the public API alone (backfill/pacing.h):
// PacingOptions with the replica, passed to backfill::Run, hold the writes
// on the replica's real lag and let them go on once it catches up.
TEST_P(ThrottleTest, LibraryRunWithPacingOptionsHoldsOnTheReplicasLag) {
  constexpr int64_t kRows = 200000;
  CreateUsers(kRows);
  absl::StatusOr<JobSpec> spec = ColumnJob("users", {"login_name = username"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  RunOptions options;
  options.chunking.initial_rows = options.chunking.min_rows =
      options.chunking.max_rows = 500;
  options.chunking.target_chunk_time = absl::ZeroDuration();
  CancellationToken cancel;
  options.cancel = &cancel;
  Notes notes;
  options.observer = &notes;
  PacingOptions pacing;
  pacing.replicas = {db_->replica_dsn()};
  pacing.lag.max_lag = absl::Seconds(1);
  pacing.max_rows_per_second = 20000;
  absl::StatusOr<RunReport> report;
  std::thread run([&] {
    report = backfill::Run({.dsn = db_->dsn()}, *spec, options, pacing);
  });
  absl::Cleanup join = [&] {
    cancel.Cancel();  // a failed assertion must not leave the run going
    run.join();
  };
  ASSERT_TRUE(WaitForChunks("users", 5));

  PauseReplay();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int64_t held_at = Chunks("users");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Chunks("users"), held_at) << "writes went on with replay paused";
  EXPECT_LT(held_at * 500, kRows) << "the run finished before it was held";

  ResumeReplay();
  ASSERT_TRUE(WaitForChunks("users", held_at + 1, 10))
      << "writes never resumed";
  std::move(join).Cancel();
  run.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->outcome, RunOutcome::kDone);
  EXPECT_GT(report->throttled, absl::Seconds(1));
  // The commit latency is on by default, and its baseline comes back for
  // the next slice.
  EXPECT_GT(report->commit_latency_baseline, absl::ZeroDuration());
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  bool told = false;
  for (const std::string& line : notes.lines) {
    told |= line.find("pacing: replication lag of ") == 0;
  }
  EXPECT_TRUE(told) << absl::StrJoin(notes.lines, "\n");
}

TEST_P(ThrottleTest, ProbeSlowerThanMaxLatencyHoldsWrites) {
  CreateUsers(10000);
  const std::string slow =
      postgres_ ? "SELECT pg_sleep(0.2)" : "SELECT SLEEP(0.2)";
  CliProcess run(
      UsersRun({"--max-latency", "50ms", "--probe-query", slow, "--max-lag",
                "0", "--chunk-rows", "100", "--target-chunk-time", "0"}));
  ASSERT_TRUE(
      WaitForStderr(run, "throttle=on reason=\"probe_latency p95 2", 15))
      << run.StderrSoFar();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(Chunks("users"), 0) << "a chunk ran while the probe was slow";
  run.Signal(SIGTERM);
  CliResult r = run.Wait(60);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Chunks("users"), 0);
  EXPECT_EQ(
      db_->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "stopped");
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 10000);
}

TEST_P(ThrottleTest, FastProbeLetsWritesRun) {
  CreateUsers(10000);
  CliResult r =
      Run({"--table", "users", "--set", "login_name = username",
           "--max-latency", "500ms", "--max-lag", "0", "--chunk-rows", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("throttle=on"), std::string::npos) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ThrottleTest, ThrottleQueryOverThresholdHoldsWrites) {
  CreateUsers(10000);
  db_->Exec("CREATE TABLE knob (v INT)");
  db_->Exec("INSERT INTO knob VALUES (50)");
  CliProcess run(UsersRun({"--throttle-query", "SELECT v FROM knob",
                           "--throttle-threshold", "10", "--max-lag", "0",
                           "--chunk-rows", "100", "--target-chunk-time", "0"}));
  ASSERT_TRUE(
      WaitForStderr(run, "throttle=on reason=\"throttle_query 50 > 10\"", 15))
      << run.StderrSoFar();
  EXPECT_EQ(Chunks("users"), 0);
  db_->Exec("UPDATE knob SET v = 1");
  CliResult r = run.Wait(120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ThrottleTest, StoppedReplicaHoldsWritesUntilItIsBack) {
  if (!postgres_)
    GTEST_SKIP() << "stopping the MariaDB replica is not scripted";
  constexpr int64_t kRows = 200000;
  CreateUsers(kRows);
  ReplicaSql("CHECKPOINT");  // so that stopping it mid-run is quick
  CliProcess run(UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s",
                           "--chunk-rows", "500", "--target-chunk-time", "0",
                           "--max-rows-per-second", "20000"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();

  const auto t_stop = Clock::now();
  StopPgReplica();
  std::printf("[ throttle ] stopping the replica took %.1fs\n",
              SecondsSince(t_stop));
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t held_at = Chunks("users");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(Chunks("users"), held_at) << "writes went on with the replica down";
  EXPECT_NE(
      run.StderrSoFar().find(absl::StrCat(ReplicaName(), " unreadable: ")),
      std::string::npos)
      << run.StderrSoFar();
  ASSERT_FALSE(run.Exited()) << run.StderrSoFar();

  StartPgReplica();
  std::printf("[ throttle ] replica down for %.1fs\n", SecondsSince(t0));
  ASSERT_TRUE(WaitForChunks("users", held_at + 1, 30))
      << "writes never resumed";
  CliResult r = run.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ThrottleTest, CriticalLagCheckpointsAndExitsFour) {
  constexpr int64_t kRows = 100000;
  CreateUsers(kRows);
  CliProcess run(
      UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s",
                "--critical-lag", "2s", "--chunk-rows", "500",
                "--target-chunk-time", "0", "--max-rows-per-second", "20000"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  PauseReplay();
  const auto t0 = Clock::now();
  CliResult r = run.Wait(30);
  const double exited_after = SecondsSince(t0);
  std::printf("[ throttle ] %s: critical exit %.2fs after replay paused\n",
              db_->kind().c_str(), exited_after);
  ASSERT_EQ(r.exit_code, 4) << r.err;
  EXPECT_LT(exited_after, 5);
  EXPECT_NE(r.err.find(absl::StrCat("critical: ", ReplicaName(), " 2")),
            std::string::npos)
      << r.err;
  const int64_t chunks = Chunks("users");
  EXPECT_EQ(
      db_->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "stopped");
  EXPECT_EQ(
      db_->Query("SELECT message FROM backfill_checkpoints WHERE job = 'users'")
          .value_or("")
          .rfind(absl::StrCat("critical: ", ReplicaName()), 0),
      0u);
  // The checkpoint matches the data: exactly its rows are written.
  EXPECT_EQ(Mismatches("users", "login_name", "username"),
            kRows - db_->QueryInt("SELECT rows_walked FROM "
                                  "backfill_checkpoints WHERE job = 'users'"));

  ResumeReplay();
  CliResult again =
      RunCli(UsersRun({"--replica", db_->replica_dsn(), "--max-lag", "1s"}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("resuming after key"), std::string::npos)
      << again.err;
  EXPECT_GE(Chunks("users"), chunks);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Without --replica, PostgreSQL watches pg_stat_replication.
TEST_P(ThrottleTest, PgStatReplicationLagHoldsWritesWithoutReplicaConnections) {
  if (!postgres_) GTEST_SKIP() << "MySQL needs --replica to watch lag";
  constexpr int64_t kRows = 200000;
  CreateUsers(kRows);
  CliProcess run(
      UsersRun({"--max-lag", "1s", "--chunk-rows", "500", "--target-chunk-time",
                "0", "--max-rows-per-second", "20000"}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  PauseReplay();
  const auto t0 = Clock::now();
  ASSERT_TRUE(WaitForStderr(
      run, "throttle=on reason=\"replication_lag pg_stat_replication 1", 10))
      << run.StderrSoFar();
  const double throttled_after = SecondsSince(t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t held_at = Chunks("users");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Chunks("users"), held_at) << "writes went on with replay paused";
  std::printf(
      "[ throttle ] pg_stat_replication: throttled %.2fs after replay paused\n",
      throttled_after);
  EXPECT_LT(throttled_after, 3);
  ResumeReplay();
  CliResult r = run.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Lock etiquette: a chunk waits at most --lock-timeout for a row another
// transaction holds, then rolls back and is retried smaller, until the
// application lets go.
TEST_P(ThrottleTest, LockTimeoutRetriesTheChunkSmaller) {
  CreateUsers(5000);
  // An application transaction holds row 500 for 4 seconds.
  const std::string hold =
      postgres_ ? "BEGIN; SELECT id FROM users WHERE id = 500 FOR UPDATE; "
                  "SELECT pg_sleep(4); COMMIT;"
                : "BEGIN; SELECT id FROM users WHERE id = 500 FOR UPDATE; "
                  "DO SLEEP(4); COMMIT;";
  absl::StatusOr<Dsn> dsn = ParseDsn(db_->dsn());
  ASSERT_TRUE(dsn.ok());
  std::thread application([&] {
    try {
      if (postgres_) {
        Capture({"psql", db_->dsn(), "-X", "-q", "-c", hold});
      } else {
        Capture({"mysql", "-h", dsn->host, "-P", absl::StrCat(dsn->port), "-u",
                 dsn->user, absl::StrCat("-p", dsn->password.value_or("")),
                 "-D", dsn->database, "-e", hold});
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = Clock::now();
  CliResult r = Run({"--table", "users", "--set", "login_name = username",
                     "--lock-timeout", "1s", "--max-lag", "0", "--chunk-rows",
                     "1000", "--target-chunk-time", "0"});
  const double took = SecondsSince(t0);
  application.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("retrying in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(postgres_ ? "lock timeout" : "Lock wait timeout"),
            std::string::npos)
      << r.err;
  // Not one wait of the server's default (PostgreSQL: none, forever;
  // MariaDB: 50s, or the adapter's 10s).
  EXPECT_LT(took, 9) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ThrottleTest, MysqlWithoutReplicaSaysReplicaIsNeeded) {
  if (postgres_) GTEST_SKIP() << "PostgreSQL falls back to pg_stat_replication";
  CreateUsers(100);
  CliResult r = Run({"--table", "users", "--set", "login_name = username",
                     "--max-lag", "1s"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("give --replica URI"), std::string::npos) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 100);
  // Without lag flags the run goes ahead and says lag is not watched.
  CliResult ok = Run({"--table", "users", "--set", "login_name = username"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("note: replication lag is not watched"),
            std::string::npos)
      << ok.err;
}

BACKFILL_INSTANTIATE(ThrottleTest);

}  // namespace
}  // namespace backfill::testing
