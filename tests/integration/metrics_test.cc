// `backfill run --metrics-listen` and `--log-format json` on a real database:
// /metrics scraped during a run passes `promtool check metrics` and its
// counters move; a port in use is bad input (exit 2, nothing written); the
// JSON events parse and carry their reasons.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "tests/integration/fixture.h"
#include "tests/integration/scrape.h"

namespace backfill::testing {
namespace {

using ::testing::HasSubstr;

using MetricsTest = IntegrationTest;

void CreateUsers(TestDb* db, int64_t n) {
  db->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db->Exec(
      db->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
}

// Slow enough to scrape twice: 200-row chunks of fixed size.
std::vector<std::string> SlowUsersRun(TestDb* db, const std::string& listen,
                                      const std::string& log_format) {
  return {"run",
          "--dsn",
          db->dsn(),
          "--table",
          "users",
          "--set",
          "login_name = username",
          "--chunk-rows",
          "200",
          "--target-chunk-time",
          "0",
          "--metrics-listen",
          listen,
          "--log-format",
          log_format};
}

// Runs `command` through the shell with `input` on stdin; its exit code and
// combined output.
std::pair<int, std::string> Shell(const std::string& command,
                                  const std::string& input) {
  char path[] = "/tmp/backfill-metrics-XXXXXX";
  const int fd = mkstemp(path);
  (void)write(fd, input.data(), input.size());
  close(fd);
  const std::string full = absl::StrCat(command, " < ", path, " 2>&1");
  FILE* p = popen(full.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  std::remove(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Waits for a stderr line containing `text`.
bool WaitForStderr(CliProcess& process, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !process.Exited()) {
    if (absl::StrContains(process.StderrSoFar(), text)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::StrContains(process.StderrSoFar(), text);
}

// One "event|reason|outcome|resumed" line per JSON object on stderr, "note"
// events left out; fails the test if any line is not a JSON object with an
// "event".
std::vector<std::string> JsonEvents(const std::string& err) {
  auto [code, out] = Shell(
      "python3 -c 'import json, sys\n"
      "for line in sys.stdin:\n"
      "    o = json.loads(line)\n"
      "    assert isinstance(o, dict) and isinstance(o[\"event\"], str), line\n"
      "    print(o[\"event\"], o.get(\"reason\", \"\"), o.get(\"outcome\", "
      "\"\"),\n"
      "          o.get(\"resumed\", \"\"), sep=\"|\")'",
      err);
  EXPECT_EQ(code, 0) << "stderr is not one JSON object per line:\n"
                     << out << "\n"
                     << err;
  std::vector<std::string> events =
      absl::StrSplit(out, '\n', absl::SkipEmpty());
  // Notes about what pacing does not watch depend on the server's setup.
  std::erase_if(events, [](const std::string& e) {
    return absl::StartsWith(e, "note|");
  });
  return events;
}

TEST_P(MetricsTest, ScrapedDuringARunPassesPromtoolAndCountersMove) {
  CreateUsers(db_.get(), 200000);
  CliProcess process(SlowUsersRun(db_.get(), "127.0.0.1:0", "json"));
  const int port = WaitForMetricsPort(process);
  ASSERT_GT(port, 0);

  const std::string walked =
      "backfill_rows_total{job=\"users\",kind=\"walked\"}";
  const std::string committed =
      "backfill_chunks_total{job=\"users\",outcome=\"committed\"}";
  const std::string histogram =
      "backfill_chunk_duration_seconds_count{job=\"users\"}";
  std::optional<std::string> first;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    first = Scrape(port);
    ASSERT_TRUE(first.has_value())
        << "the endpoint went away before the first chunks";
    if (Samples(*first)[walked] > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::optional<std::string> second = Scrape(port);
  ASSERT_TRUE(second.has_value())
      << "the run ended before the second scrape; slow it down";

  auto [code, lint] = Shell("promtool check metrics", *second);
  EXPECT_EQ(code, 0) << lint << "\n" << *second;

  std::map<std::string, double> a = Samples(*first), b = Samples(*second);
  EXPECT_GT(a[walked], 0);
  EXPECT_GT(b[walked], a[walked]);
  EXPECT_GT(b[committed], a[committed]);
  EXPECT_GT(b[histogram], a[histogram]);
  // One chunk's two updates are not one step for a scrape: one taken
  // between them (seen under ASan in CI) counts the chunk in one series only.
  EXPECT_NEAR(b[histogram], b[committed], 1);
  EXPECT_EQ(b["backfill_chunk_rows{job=\"users\"}"], 200);
  EXPECT_GT(b["backfill_progress_ratio{job=\"users\"}"], 0);
  EXPECT_LT(b["backfill_progress_ratio{job=\"users\"}"], 1);
  EXPECT_EQ(b["backfill_throttled{job=\"users\"}"], 0);
  for (const char* family :
       {"backfill_rows_total", "backfill_chunks_total",
        "backfill_chunk_duration_seconds", "backfill_chunk_rows",
        "backfill_progress_ratio", "backfill_eta_seconds", "backfill_throttled",
        "backfill_retries_total"}) {
    EXPECT_THAT(*second, HasSubstr(absl::StrCat("# TYPE ", family, " ")))
        << family;
  }
  // Every backfill series carries the job label (prometheus-cpp adds its own
  // exposer_* series, which do not).
  for (const auto& [series, value] : b) {
    if (absl::StartsWith(series, "backfill_")) {
      EXPECT_THAT(series, HasSubstr("job=\"users\"")) << series;
    }
  }

  CliResult r = process.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Scrape(port).has_value()) << "still serving after the run ended";
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Tables in the scratch database.
int64_t TablesIn(TestDb* db) {
  return db->QueryInt(db->kind() == "postgres"
                          ? "SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = current_schema()"
                          : "SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = DATABASE()");
}

// Binds 127.0.0.1 on a kernel-chosen port and listens; closed on destruction.
class TakenPort {
 public:
  TakenPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    port_ = ntohs(sa.sin_port);
  }
  ~TakenPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_P(MetricsTest, PortInUseExitsTwoAndWritesNothing) {
  CreateUsers(db_.get(), 1000);
  TakenPort taken;
  const std::string listen = absl::StrCat("127.0.0.1:", taken.port());
  CliResult r = RunCli(SlowUsersRun(db_.get(), listen, "text"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, absl::StrCat("backfill: --metrics-listen ", listen,
                                ": cannot listen: address already in use\n"));
  // No checkpoint, no heartbeat table, no other table: only users.
  EXPECT_EQ(TablesIn(db_.get()), 1);
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      0);

  // The same as a JSON event with --log-format json.
  r = RunCli(SlowUsersRun(db_.get(), listen, "json"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::vector<std::string> events = JsonEvents(r.err);
  ASSERT_EQ(events.size(), 1u) << r.err;
  EXPECT_EQ(events[0],
            absl::StrCat("error|--metrics-listen ", listen,
                         ": cannot listen: address already in use||"));
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));
}

// Ends the backfill's chunk connection from the server side.
void KillCopierConnection(TestDb* db) {
  if (db->kind() == "postgres") {
    // The copier's session (the pacer's are "backfill-pacer"); it is idle
    // between rate-capped chunks most of the time.
    db->Exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
        "= current_database() AND pid <> pg_backend_pid() AND "
        "application_name = 'backfill'");
  } else {
    std::optional<std::string> id = db->Query(
        "SELECT max(id) FROM information_schema.processlist WHERE db = "
        "DATABASE() AND "
        "id <> CONNECTION_ID() AND (info LIKE '%login_name%' OR command = "
        "'Sleep')");
    if (id.has_value()) db->Exec(absl::StrCat("KILL CONNECTION ", *id));
  }
}

TEST_P(MetricsTest, JsonEventsParseAndCarryReasons) {
  CreateUsers(db_.get(), 200000);
  std::vector<std::string> args =
      SlowUsersRun(db_.get(), "127.0.0.1:0", "json");
  CliProcess process(args);
  const int port = WaitForMetricsPort(process);
  ASSERT_TRUE(WaitForStderr(process, "\"event\":\"progress\""))
      << process.StderrSoFar();
  // A lost connection: a retry event with its reason, then the run goes on.
  for (int i = 0; i < 50 && !absl::StrContains(process.StderrSoFar(),
                                               "\"event\":\"retry\"");
       ++i) {
    KillCopierConnection(db_.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(WaitForStderr(process, "\"event\":\"retry\""))
      << process.StderrSoFar();
  std::optional<std::string> scrape = Scrape(port);
  ASSERT_TRUE(scrape.has_value());
  EXPECT_GE(
      Samples(*scrape)
          ["backfill_retries_total{job=\"users\",reason=\"connection_lost\"}"],
      1)
      << *scrape;
  process.Signal(SIGTERM);
  CliResult stopped = process.Wait();
  ASSERT_EQ(stopped.exit_code, 3) << stopped.err;

  std::vector<std::string> events = JsonEvents(stopped.err);
  ASSERT_GE(events.size(), 5u) << stopped.err;
  EXPECT_EQ(events[0], "metrics|||");
  EXPECT_EQ(events[1], "start|||False");
  EXPECT_THAT(events, ::testing::Contains("progress|||"));
  EXPECT_THAT(events, ::testing::Contains("retry|connection_lost||"));
  EXPECT_EQ(events.back(), "stop|stopped by signal|stopped|");

  // The same command again resumes and finishes.
  CliResult done = RunCli(args);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  events = JsonEvents(done.err);
  ASSERT_GE(events.size(), 3u) << done.err;
  EXPECT_EQ(events[1], "start|||True");
  EXPECT_EQ(events.back(), "done|done|done|");
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

BACKFILL_INSTANTIATE(MetricsTest);

}  // namespace
}  // namespace backfill::testing
