// The installed CMake package, used the way an embedding job runner uses it:
// `cmake --install` of this build into a temporary prefix, then the
// out-of-tree examples/job_runner configured with find_package(backfill),
// built against it, and run in slices on a real database.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

// The examples are built without a sanitizer (scripts/package --check
// checks the packaged ones too).
using PackageTest = UninstrumentedHostTest;

// Quotes `s` for /bin/sh.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// Runs `command` with /bin/sh; its exit code and combined output.
std::pair<int, std::string> Sh(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/backfill-package-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `cmake --install` of this build into `prefix`.
std::pair<int, std::string> Install(const std::string& prefix) {
  return Sh(absl::StrCat(Quote(BACKFILL_CMAKE_COMMAND), " --install ",
                         Quote(BACKFILL_BUILD_DIR), " --prefix ",
                         Quote(prefix)));
}

TEST_P(PackageTest, JobRunnerBuiltAgainstTheInstalledPackageRunsInSlices) {
  CreateUsersTable(150000);

  TempDir tmp;
  const std::string prefix = tmp.path() + "/prefix";
  const std::string build = tmp.path() + "/build";
  const std::string cmake = Quote(BACKFILL_CMAKE_COMMAND);
  auto [install_code, install_out] = Install(prefix);
  ASSERT_EQ(install_code, 0) << install_out;
  EXPECT_THAT(install_out, ::testing::HasSubstr("backfillConfig.cmake"));
  // The client libraries' headers stay out of the package.
  auto [grep_code, grep_out] = Sh(absl::StrCat(
      "grep -rlE 'pqxx|mysql\\.h|prometheus/' ", Quote(prefix + "/include")));
  EXPECT_NE(grep_code, 0) << "installed headers name a client library:\n"
                          << grep_out;
  // The public API under the project's prefix; the internals not at all.
  const std::string include = prefix + "/include/backfill/";
  EXPECT_TRUE(std::filesystem::exists(include + "backfill.h"));
  EXPECT_TRUE(std::filesystem::exists(include + "engine/job.h"));
  for (const char* internal : {"engine/job_run.h", "engine/sql_fragment.h",
                               "engine/json.h", "adapters/postgres"}) {
    EXPECT_FALSE(std::filesystem::exists(include + internal)) << internal;
  }

  // Configured with only the prefix: no path into this source or build tree.
  auto [configure_code, configure_out] = Sh(absl::StrCat(
      cmake, " -S ",
      Quote(std::string(BACKFILL_SOURCE_DIR) + "/examples/job_runner"), " -B ",
      Quote(build), " -DCMAKE_PREFIX_PATH=", Quote(prefix)));
  ASSERT_EQ(configure_code, 0) << configure_out;
  auto [build_code, build_out] =
      Sh(absl::StrCat(cmake, " --build ", Quote(build)));
  ASSERT_EQ(build_code, 0) << build_out;

  auto [run_code, run_out] = Sh(absl::StrCat(
      Quote(build + "/job_runner"), " --dsn ", Quote(db_->dsn()),
      " --table users --set ", Quote("login_name = username"), " --slice 200ms",
      // Paced through the public API on the real replica.
      " --replica ", Quote(db_->replica_dsn()), " --max-lag 5s"));
  ASSERT_EQ(run_code, 0) << run_out;
  std::vector<std::string> lines =
      absl::StrSplit(run_out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << "expected several slices:\n" << run_out;
  const std::regex slice(
      R"(slice (\d+): (\d+) rows so far \((\d+\.\d)%\), \d+ in this slice, (\w+), throttled (\S+))");
  int64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, slice)) << lines[i];
    EXPECT_EQ(std::stoi(m[1]), static_cast<int>(i + 1));
    // Every slice makes progress, unless pacing held writes through it
    // (backfill::RunOptions::max_duration).
    absl::Duration throttled;
    ASSERT_TRUE(absl::ParseDuration(m[5].str(), &throttled)) << lines[i];
    if (throttled < absl::Milliseconds(150)) {
      EXPECT_GT(std::stoll(m[2]), previous) << lines[i];
    } else {
      EXPECT_GE(std::stoll(m[2]), previous) << lines[i];
    }
    previous = std::stoll(m[2]);
    EXPECT_EQ(m[4], i + 1 == lines.size() ? "done" : "slice_end") << lines[i];
  }
  EXPECT_THAT(lines.back(),
              ::testing::HasSubstr("150000 rows so far (100.0%)"));
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// The C ABI from C: examples/c/job_runner.c compiled by the C compiler
// against the installed header and library alone, then run in slices.
TEST_P(PackageTest, CJobRunnerBuiltAgainstTheInstalledHeaderRunsInSlices) {
  constexpr int64_t kRows = 60000;
  CreateUsersTable(kRows);
  TempDir tmp;
  const std::string prefix = tmp.path() + "/prefix";
  auto [install_code, install_out] = Install(prefix);
  ASSERT_EQ(install_code, 0) << install_out;
  const std::string lib = prefix + "/lib";
  const std::string runner = tmp.path() + "/job_runner_c";
  auto [cc_code, cc_out] = Sh(absl::StrCat(
      Quote(BACKFILL_C_COMPILER), " -std=c99 -Wall -Wextra -pedantic -Werror ",
      Quote(std::string(BACKFILL_SOURCE_DIR) + "/examples/c/job_runner.c"),
      " -I", Quote(prefix + "/include"), " -L", Quote(lib), " -lbackfill",
      " -Wl,-rpath,", Quote(lib), " -o ", Quote(runner)));
  ASSERT_EQ(cc_code, 0) << cc_out;

  const std::string events = tmp.path() + "/events";
  auto [run_code, run_out] = Sh(absl::StrCat(
      "(", Quote(runner), " 0.3 --dsn ", Quote(db_->dsn()),
      " --table users --set ", Quote("login_name = username"),
      " --max-commit-latency 0 --chunk-rows 500 --target-chunk-time 0",
      " --max-rows-per-second 40000 2>", Quote(events), ")"));
  ASSERT_EQ(run_code, 0) << run_out;
  // The job's events, one JSON object per line, through the callback.
  auto [events_code, events_out] = Sh("cat " + Quote(events));
  EXPECT_THAT(events_out, ::testing::HasSubstr("{\"event\":\"done\""));
  std::vector<std::string> lines =
      absl::StrSplit(run_out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << "expected several slices:\n" << run_out;
  const std::regex slice(
      R"(slice (\d+): (\w+), (\d+) rows \((\d+) in this slice\), ([0-9.]+)%, state (\w+))");
  int64_t previous = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, slice)) << lines[i];
    const bool last = i + 1 == lines.size();
    EXPECT_EQ(m[2], last ? "done" : "slice_end") << lines[i];
    // A slice that ends leaves its checkpoint "stopped", to be resumed.
    EXPECT_EQ(m[6], last ? "done" : "stopped") << lines[i];
    EXPECT_EQ(std::stoll(m[3]), previous + std::stoll(m[4])) << lines[i];
    previous = std::stoll(m[3]);
  }
  EXPECT_EQ(previous, kRows);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);

  // Bad input: the code and the engine's line, nothing written.
  auto [bad_code, bad_out] = Sh(absl::StrCat(
      Quote(runner), " 1 --dsn ", Quote(db_->dsn()), " --table users --set ",
      Quote("nosuch = 1"), " --job other"));
  EXPECT_EQ(bad_code, 2) << bad_out;
  EXPECT_THAT(bad_out, ::testing::HasSubstr(
                           "job_runner_c: column \"nosuch\" does not exist"));
}

BACKFILL_INSTANTIATE(PackageTest);

}  // namespace
}  // namespace backfill::testing
