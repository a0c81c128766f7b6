// The Python binding (bindings/python/backfill, over the C ABI in
// libbackfill.so) as a Python job runner uses it, on the real dev servers:
// examples/python/job_runner.py in slices, a pause from another connection,
// a cancel from another thread, bad input, and a planted password.
// tests/python/binding_checks.py does what needs Python's threads or its
// exceptions and prints "key=value" lines; the assertions are here.

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

// Debian's interpreter, as a job runner's host has it.
constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPlanted[] = "Pl4nted-S3cret-xyzzy";

// python3 is not built with a sanitizer.
class PythonBindingTest : public UninstrumentedHostTest {
 protected:
  // The binding from the source tree, the library from the build tree.
  static std::vector<std::string> Env() {
    return {
        std::string("PYTHONPATH=") + BACKFILL_SOURCE_DIR + "/bindings/python",
        std::string("BACKFILL_LIBRARY=") + BACKFILL_LIBRARY_PATH};
  }
  static std::string Script(const std::string& path) {
    return std::string(BACKFILL_SOURCE_DIR) + "/" + path;
  }
  // binding_checks.py CHECK ARGS..., its "key=value" lines by key.
  static std::multimap<std::string, std::string> Check(
      const std::string& check, std::vector<std::string> args,
      CliResult* result = nullptr) {
    args.insert(args.begin(),
                {Script("tests/python/binding_checks.py"), check});
    CliProcess p(kPython, args, Env());
    CliResult r = p.Wait(120);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::multimap<std::string, std::string> out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits('=', 1));
      if (!kv.first.empty()) out.emplace(kv);
    }
    if (result != nullptr) *result = r;
    return out;
  }
  static std::string One(const std::multimap<std::string, std::string>& m,
                         const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? "<none>" : it->second;
  }

  std::vector<std::string> Users(const std::string& dsn,
                                 const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--dsn",
                                     dsn,
                                     "--table",
                                     "users",
                                     "--set",
                                     "login_name = username",
                                     "--max-commit-latency",
                                     "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

// {"outcome": "slice_end", "rows": 12000, "progress": 0.2}
const std::regex kSliceLine(
    R"re(\{"outcome": "(\w+)", "rows": (\d+), "progress": ([0-9.]+)\})re");

TEST_P(PythonBindingTest, ExampleRunsSlicesToCompletionWithExactData) {
  constexpr int64_t kRows = 60000;
  CreateUsersTable(kRows);
  std::vector<std::string> args = {Script("examples/python/job_runner.py")};
  for (const std::string& a :
       Users(db_->dsn(),
             {"--slice-seconds", "0.3", "--replica", db_->replica_dsn(),
              "--max-lag", "5s", "--chunk-rows", "500", "--target-chunk-time",
              "0", "--max-rows-per-second", "40000"})) {
    args.push_back(a);
  }
  CliProcess p(kPython, args, Env());
  CliResult r = p.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << "expected several slices:\n" << r.out;
  int64_t rows = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, kSliceLine)) << lines[i];
    EXPECT_EQ(m[1], i + 1 == lines.size() ? "done" : "slice_end") << lines[i];
    rows += std::stoll(m[2]);
  }
  EXPECT_EQ(rows, kRows) << r.out;
  EXPECT_THAT(lines.back(), ::testing::HasSubstr("\"progress\": 1.0"));
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(PythonBindingTest, APauseFromAnotherConnectionEndsASliceAsPaused) {
  CreateUsersTable(100000);
  std::vector<std::string> args = {Script("examples/python/job_runner.py")};
  for (const std::string& a :
       Users(db_->dsn(),
             {"--slice-seconds", "120", "--chunk-rows", "100",
              "--target-chunk-time", "0", "--max-rows-per-second", "1000"})) {
    args.push_back(a);
  }
  CliProcess p(kPython, args, Env());
  ASSERT_TRUE(WaitForChunks("users", 3)) << p.StderrSoFar();
  CliResult pause = Command("pause", {"--job", "users"});
  ASSERT_EQ(pause.exit_code, 0) << pause.err;
  CliResult r = p.Wait(60);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  std::smatch m;
  const std::string last = std::string(absl::StripSuffix(r.out, "\n"));
  ASSERT_TRUE(std::regex_match(last, m, kSliceLine)) << r.out;
  EXPECT_EQ(m[1], "paused");
  EXPECT_LT(std::stoll(m[2]), 100000);
  ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
}

TEST_P(PythonBindingTest, CancellationFromAnotherThreadStopsWithinAChunk) {
  CreateUsersTable(100000);
  // 100-row chunks at 1000 rows/s: a chunk takes milliseconds and the copier
  // waits on the rate between chunks, where a cancel must end the wait.
  std::vector<std::string> args = {"1.0"};
  for (const std::string& a :
       Users(db_->dsn(), {"--chunk-rows", "100", "--target-chunk-time", "0",
                          "--max-rows-per-second", "1000"})) {
    args.push_back(a);
  }
  auto out = Check("cancel", args);
  EXPECT_EQ(One(out, "outcome"), "stopped");
  ASSERT_NE(One(out, "after_cancel"), "None");
  EXPECT_LT(std::stod(One(out, "after_cancel")), 0.5);
  EXPECT_GT(std::stoll(One(out, "rows")), 0);
  ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
}

TEST_P(PythonBindingTest, BadInputRaisesTheEnginesOneLineMessage) {
  CreateUsersTable(1000);
  const std::vector<std::vector<std::string>> cases = {
      {"--dsn", db_->dsn(), "--table", "users", "--set", "nosuch = 1"},
      {"--dsn", db_->dsn(), "--table", "users", "--set",
       "login_name = username", "--max-lag", "2"},
      {"--dsn", db_->dsn(), "--table", "nosuch", "--set", "a = 1"},
      {"--dsn", db_->dsn(), "--table", "users", "--set",
       "login_name = username", "--bogus-flag", "1"},
  };
  for (const std::vector<std::string>& args : cases) {
    auto out = Check("error", args);
    EXPECT_EQ(One(out, "raised"), "BadInput") << args[5];
    EXPECT_EQ(One(out, "code"), "2");
    // The command's own line for the same arguments, without "backfill: ".
    std::vector<std::string> run = {"run"};
    run.insert(run.end(), args.begin(), args.end());
    CliResult cli = RunCli(run);
    ASSERT_EQ(cli.exit_code, 2) << cli.err;
    EXPECT_EQ("backfill: " + One(out, "message") + "\n", cli.err);
    EXPECT_EQ(One(out, "text"), One(out, "message"));
  }
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"))
      << "a checkpoint was written";
  EXPECT_EQ(*db_->Query("SELECT count(*) FROM users WHERE login_name IS NOT "
                        "NULL"),
            "0");
}

TEST_P(PythonBindingTest, APlantedPasswordNeverShows) {
  const std::string dsn = db_->CreateUser("bf_planted", kPlanted);
  CreateUsersTable(20000);
  std::vector<std::string> texts;
  auto collect = [&](const std::multimap<std::string, std::string>& out,
                     const CliResult& r) {
    for (const auto& [key, value] : out) texts.push_back(value);
    texts.push_back(r.out);
    texts.push_back(r.err);
  };
  CliResult r;
  auto events = Check("events", Users(dsn, {"--chunk-rows", "1000"}), &r);
  EXPECT_EQ(One(events, "outcome"), "done");
  EXPECT_GE(events.count("event"), 2u);
  collect(events, r);
  for (const std::vector<std::string>& extra :
       std::vector<std::vector<std::string>>{
           {"--set", "nosuch = 1"},
           {"--bogus-flag", "1"},
       }) {
    auto out = Check("error", Users(dsn, extra), &r);
    EXPECT_EQ(One(out, "raised"), "BadInput") << extra[0];
    collect(out, r);
  }
  // An unreachable replica with the password in its own DSN: refused at
  // start, or held on as unreadable (a warning event), by database.
  auto replica =
      Check("events",
            Users(dsn, {"--job", "other", "--max-duration", "2s", "--replica",
                        (db_->kind() == "mysql" ? "mysql" : "postgresql") +
                            std::string("://bf_planted:") + kPlanted +
                            "@127.0.0.1:1/backfill"}),
            &r);
  collect(replica, r);
  auto missing = Check("error", Users(dsn + "_missing_db", {}), &r);
  EXPECT_EQ(One(missing, "raised"), "BadInput");
  collect(missing, r);
  ASSERT_GE(texts.size(), 15u);
  for (const std::string& t : texts) {
    EXPECT_FALSE(absl::StrContains(t, kPlanted)) << t;
  }
}

BACKFILL_INSTANTIATE(PythonBindingTest);

}  // namespace
}  // namespace backfill::testing
