// Pacing on what the application feels (docs/DESIGN.md "Pacing"), on the real
// servers: commits made slow for real hold writes, with the reason in the
// log, `backfill status` and the metrics; --max-load over its limit holds
// writes; --critical-load checkpoints and exits 4.
//
// Slow commits are the server's own: PostgreSQL waits commit_delay before
// every WAL flush (with commit_siblings 0, even alone); MariaDB's binary log
// group commit waits binlog_commit_wait_usec for more commits to join it.
// Both are server-wide, so these tests live in the serial suite, and
// TearDown always sets them back.

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/dsn.h"
#include "gmock/gmock.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"
#include "tests/integration/scrape.h"

namespace backfill::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

class ApplicationPacingTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    postgres_ = db_->kind() == "postgres";
  }

  void TearDown() override {
    if (slow_commits_) SlowCommits(false);
    for (std::thread& t : sleepers_) t.join();
  }

  // Every commit that flushes the log waits 100ms (PostgreSQL's most) or
  // 200ms (MariaDB), server-wide.
  void SlowCommits(bool on) {
    slow_commits_ = on;
    if (postgres_) {
      db_->Exec(on ? "ALTER SYSTEM SET commit_delay = 100000"
                   : "ALTER SYSTEM RESET commit_delay");
      db_->Exec(on ? "ALTER SYSTEM SET commit_siblings = 0"
                   : "ALTER SYSTEM RESET commit_siblings");
      db_->Exec("SELECT pg_reload_conf()");
    } else {
      // A count of 0 (the default) turns the wait off; 100ms is the
      // default wait.
      db_->Exec(absl::StrCat("SET GLOBAL binlog_commit_wait_usec = ",
                             on ? 200000 : 100000));
      db_->Exec(absl::StrCat("SET GLOBAL binlog_commit_wait_count = ",
                             on ? 1000 : 0));
    }
  }

  // `n` other sessions, each busy in one statement for `seconds`: load the
  // application would put on the server.
  void BusySessions(int n, int seconds) {
    absl::StatusOr<Dsn> dsn = ParseDsn(db_->dsn());
    ASSERT_TRUE(dsn.ok());
    for (int i = 0; i < n; ++i) {
      sleepers_.emplace_back([this, d = *dsn, seconds] {
        try {
          if (postgres_) {
            Capture({"psql", d.ToUri(), "-X", "-q", "-c",
                     absl::StrCat("SELECT pg_sleep(", seconds, ")")});
          } else {
            Capture({"mysql", "-h", d.host, "-P", absl::StrCat(d.port), "-u",
                     d.user, absl::StrCat("-p", d.password.value_or("")), "-D",
                     d.database, "-e",
                     absl::StrCat("DO SLEEP(", seconds, ")")});
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
        }
      });
    }
  }

  // Waits up to `seconds` for `text` in the process's stderr past its first
  // `from` bytes.
  static bool WaitForStderr(CliProcess& p, const std::string& text,
                            double seconds, size_t from = 0) {
    auto seen = [&] {
      const std::string err = p.StderrSoFar();
      return err.size() > from && err.find(text, from) != std::string::npos;
    };
    const auto t0 = Clock::now();
    while (SecondsSince(t0) < seconds && !p.Exited()) {
      if (seen()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return seen();
  }

  void CreateUsers(int64_t n) {
    db_->Exec(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64))");
    db_->Exec(
        db_->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
  }

  // A slow, steady run: 500-row chunks at most 10k rows/s, lag not watched
  // (no replica involved).
  std::vector<std::string> UsersRun(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run",
                                     "--dsn",
                                     db_->dsn(),
                                     "--table",
                                     "users",
                                     "--set",
                                     "login_name = username",
                                     "--max-lag",
                                     "0",
                                     "--chunk-rows",
                                     "500",
                                     "--target-chunk-time",
                                     "0",
                                     "--max-rows-per-second",
                                     "10000",
                                     "--log-format",
                                     "text"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Chunks do not advance for `seconds`.
  void ExpectHeld(double seconds) {
    const int64_t at = Chunks("users");
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    EXPECT_EQ(Chunks("users"), at) << "writes went on while held";
  }

  bool postgres_ = false;
  bool slow_commits_ = false;
  std::vector<std::thread> sleepers_;
};

TEST_P(ApplicationPacingTest, SlowCommitsHoldWritesAndSayWhy) {
  constexpr int64_t kRows = 200000;
  CreateUsers(kRows);
  // The default (the test runner turns it off unless given).
  CliProcess run(UsersRun(
      {"--max-commit-latency", "2x", "--metrics-listen", "127.0.0.1:0"}));
  const int port = WaitForMetricsPort(run);
  ASSERT_TRUE(WaitForStderr(run, "note: commit latency: quiet p95 ", 30))
      << run.StderrSoFar();
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();

  SlowCommits(true);
  // Held on the slow commits (the disk's own noise may have held writes
  // before, under the same reason): the p95 the metrics show is theirs.
  const auto t0 = Clock::now();
  std::map<std::string, double> m;
  while (SecondsSince(t0) < 15) {
    std::optional<std::string> text = Scrape(port);
    ASSERT_TRUE(text.has_value());
    m = Samples(*text);
    if (m["backfill_commit_latency_seconds{job=\"users\"}"] >= 0.09 &&
        m["backfill_throttled{job=\"users\"}"] == 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(m["backfill_commit_latency_seconds{job=\"users\"}"], 0.09);
  EXPECT_EQ(m["backfill_throttled{job=\"users\"}"], 1);
  // The chunk in flight when writes were held commits (slowly) first.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ExpectHeld(2);
  ASSERT_FALSE(run.Exited()) << run.StderrSoFar();
  const std::string log = run.StderrSoFar();
  EXPECT_THAT(log, HasSubstr("throttle=on reason=\"commit_latency p95 "));
  EXPECT_THAT(log, HasSubstr("ms, quiet ")) << log;

  // `status` says why the job is not advancing.
  CliResult status = Command("status", {"--job", "users"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("throttled: commit_latency p95 "));
  // So do the metrics.
  std::optional<std::string> text = Scrape(port);
  ASSERT_TRUE(text.has_value());
  m = Samples(*text);
  EXPECT_EQ(m["backfill_throttled{job=\"users\"}"], 1) << *text;
  const double baseline =
      m["backfill_commit_latency_baseline_seconds{job=\"users\"}"];
  EXPECT_GT(baseline, 0) << *text;
  EXPECT_LT(baseline, m["backfill_commit_latency_seconds{job=\"users\"}"] / 2)
      << *text;
  EXPECT_GT(m["backfill_throttle_seconds_total{job=\"users\",reason=\""
              "commit_latency p95\"}"],
            1)
      << *text;

  // Held, the run still stops cleanly, its checkpoint with its data; how
  // soon it would resume depends on how quiet this machine's disk is, so
  // the rest is done without the signal.
  SlowCommits(false);
  run.Signal(SIGTERM);
  CliResult stopped = run.Wait(60);
  ASSERT_EQ(stopped.exit_code, 3) << stopped.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"),
            kRows - db_->QueryInt("SELECT rows_walked FROM "
                                  "backfill_checkpoints WHERE job = 'users'"));
  CliResult r = RunCli(UsersRun({"--max-commit-latency", "0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ApplicationPacingTest, MaxLoadOverItsLimitHoldsWrites) {
  constexpr int64_t kRows = 100000;
  CreateUsers(kRows);
  const std::string var = postgres_ ? "active_sessions" : "Threads_running";
  CliProcess run(UsersRun({"--max-load", absl::StrCat(var, "=4")}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  BusySessions(6, 8);
  ASSERT_TRUE(WaitForStderr(
      run, absl::StrCat("throttle=on reason=\"load ", var, " "), 10))
      << run.StderrSoFar();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ExpectHeld(2);
  CliResult r = run.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("load ", var, " ")));
  // "> 4" or, when the sixth busy session was caught between statements,
  // ">= 4": either way against the limit given.
  EXPECT_THAT(r.err, ::testing::ContainsRegex(" >=? 4\""));
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(ApplicationPacingTest, CriticalLoadCheckpointsAndExitsFour) {
  constexpr int64_t kRows = 100000;
  CreateUsers(kRows);
  const std::string var = postgres_ ? "active_sessions" : "Threads_running";
  CliProcess run(UsersRun({"--critical-load", absl::StrCat(var, "=5")}));
  ASSERT_TRUE(WaitForChunks("users", 5)) << run.StderrSoFar();
  BusySessions(7, 5);
  CliResult r = run.Wait(60);
  ASSERT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("critical: load ", var, " ")));
  EXPECT_EQ(
      db_->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'"),
      "stopped");
  EXPECT_EQ(
      db_->Query("SELECT message FROM backfill_checkpoints WHERE job = 'users'")
          .value_or("")
          .rfind(absl::StrCat("critical: load ", var), 0),
      0u);
  // The checkpoint was committed with its data.
  EXPECT_EQ(Mismatches("users", "login_name", "username"),
            kRows - db_->QueryInt("SELECT rows_walked FROM "
                                  "backfill_checkpoints WHERE job = 'users'"));
}

TEST_P(ApplicationPacingTest, UnknownLoadVariableIsBadInput) {
  CreateUsers(100);
  CliResult r = RunCli(UsersRun({"--max-load", "Threads_runing=4"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(postgres_ ? "one load variable, active_sessions"
                                         : "no global status variable "
                                           "\"Threads_runing\""));
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 100);
}

BACKFILL_INSTANTIATE(ApplicationPacingTest);

}  // namespace
}  // namespace backfill::testing
