// docs/DESIGN.md invariant 9: a password planted in the DSN never appears in
// any output, error, `status`, JSON event, or the process's command line.

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using SecretsTest = IntegrationTest;

constexpr char kPlanted[] = "Pl4nted-S3cret-xyzzy";

TEST_P(SecretsTest, PlantedPasswordAppearsNowhere) {
  const std::string dsn = db_->CreateUser("bf_planted", kPlanted);
  db_->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db_->Exec(
      db_->InsertSeries("users", "id, username", 100000, "g, concat('u', g)"));

  std::vector<std::string> outputs;
  auto collect = [&](const CliResult& r) {
    outputs.push_back(r.out);
    outputs.push_back(r.err);
  };

  // A running job: its command line, as `ps` shows it, and its events.
  CliProcess running({"run", "--dsn", dsn, "--table", "users", "--set",
                      "login_name = username", "--chunk-rows", "500",
                      "--target-chunk-time", "0", "--log-format", "json"});
  // Read /proc/PID/cmdline until the process has rewritten its argv (the
  // DSN then shows "***"), at most 10 s even on a loaded machine.
  std::string cmdline;
  for (int i = 0; i < 1000 && !running.Exited(); ++i) {
    cmdline = running.CommandLine();
    if (absl::StrContains(cmdline, "bf_planted:***@")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(absl::StrContains(cmdline, "bf_planted:***@")) << cmdline;
  EXPECT_TRUE(absl::StrContains(cmdline, "bf_planted")) << cmdline;
  EXPECT_FALSE(absl::StrContains(cmdline, kPlanted)) << cmdline;
  CliResult run = running.Wait();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "\"event\":\"done\"")) << run.err;
  collect(run);

  for (const std::string& format : {"text", "json"}) {
    collect(
        RunCli({"run", "--dsn", dsn, "--table", "users", "--set",
                "login_name = username", "--restart", "--log-format", format}));
  }
  collect(RunCli({"run", "--dsn", dsn, "--table", "users", "--set",
                  "login_name = username", "--dry-run"}));
  collect(RunCli({"status", "--dsn", dsn}));
  collect(RunCli({"status", "--dsn", dsn, "--json"}));
  // Failures: a bad column, a bad flag next to the DSN, a wrong database.
  collect(
      RunCli({"run", "--dsn", dsn, "--table", "users", "--set", "nosuch = 1"}));
  collect(RunCli({"run", "--dsn", dsn, "--bogus-flag", "--table", "users"}));
  collect(RunCli({"status", "--dsn", dsn + "_missing_db"}));

  ASSERT_GE(outputs.size(), 16u);
  for (const std::string& o : outputs) {
    EXPECT_FALSE(absl::StrContains(o, kPlanted)) << o;
  }
  EXPECT_FALSE(absl::StrContains(
      *db_->Query("SELECT max(spec) FROM backfill_checkpoints"), kPlanted));
}

TEST_P(SecretsTest, PasswordFileIsUsedInsteadOfTheDsn) {
  db_->CreateUser("bf_planted", kPlanted);
  db_->Exec("CREATE TABLE t (id BIGINT PRIMARY KEY, a INT, b INT)");
  db_->Exec(db_->InsertSeries("t", "id, a", 100, "g, g"));
  char path[] = "/tmp/backfill-pw-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content = std::string(kPlanted) + "\n";
  ASSERT_EQ(write(fd, content.data(), content.size()),
            static_cast<ssize_t>(content.size()));
  close(fd);
  std::string dsn = db_->dsn_with_password("not-the-password");
  dsn.replace(dsn.find("://") + 3,
              dsn.find(':', dsn.find("://") + 3) - dsn.find("://") - 3,
              "bf_planted");
  CliResult r = RunCli({"run", "--dsn", dsn, "--password-file", path, "--table",
                        "t", "--set", "b = a"});
  std::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM t WHERE b = a"), 100);
}

BACKFILL_INSTANTIATE(SecretsTest);

}  // namespace
}  // namespace backfill::testing
