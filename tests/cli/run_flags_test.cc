#include "cli/run_flags.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A TOML job file in /tmp, removed with the object.
class JobFile {
 public:
  explicit JobFile(const std::string& text) {
    char tmpl[] = "/tmp/backfill-run-flags-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd >= 0) close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~JobFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseRunArgsTest, TakesTheCommandsFlags) {
  absl::StatusOr<RunFlags> f = ParseRunArgs(
      {"--dsn", "postgresql://app@db/app", "--table", "users", "--set", "a = b",
       "--set", "c = d", "--replica", "postgresql://r1/app", "--replica",
       "postgresql://r2/app", "--max-lag", "2s", "--restart"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->common.dsn, "postgresql://app@db/app");
  EXPECT_EQ(f->table, "users");
  EXPECT_THAT(f->sets, ElementsAre("a = b", "c = d"));
  EXPECT_THAT(f->pacing.replicas,
              ElementsAre("postgresql://r1/app", "postgresql://r2/app"));
  EXPECT_EQ(f->pacing.max_lag, "2s");
  EXPECT_TRUE(f->restart);
  EXPECT_FALSE(f->target_chunk_time_given);
  EXPECT_EQ(f->target_chunk_time, "500ms");
}

TEST(ParseRunArgsTest, SaysWhetherTheChunkTimeWasGiven) {
  absl::StatusOr<RunFlags> f =
      ParseRunArgs({"--dsn", "x", "--target-chunk-time", "500ms"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->target_chunk_time_given);
}

TEST(ParseRunArgsTest, ReadsAJobFileThatFlagsOverride) {
  JobFile file(R"toml(
dsn = "postgresql://app@db/app"
table = "users"
set = ["a = b"]
max-lag = "3s"
)toml");
  absl::StatusOr<RunFlags> f =
      ParseRunArgs({"--config", file.path(), "--max-lag", "5s"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->common.dsn, "postgresql://app@db/app");
  EXPECT_THAT(f->sets, ElementsAre("a = b"));
  EXPECT_EQ(f->pacing.max_lag, "5s");
}

TEST(ParseRunArgsTest, BadArgumentsAreOneLineNamingTheFlagOrKey) {
  JobFile typo("dsn = \"x\"\nwehre = \"a > 1\"\n");
  // toml++ quotes the newline it choked on (found by tests/fuzz).
  JobFile newline("v =n\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--dsn", "x", "--bogus"}, "--bogus"},
      {{"--table", "users"}, "--dsn"},
      {{"--dsn", "x", "--table"}, "--table"},
      {{"--dsn", "x", "--help"}, "--help"},
      {{"--config", typo.path()}, "--config: unknown key \"wehre\""},
      {{"--config", "/nonexistent/job.toml"}, "/nonexistent/job.toml"},
      {{"--config", newline.path()}, "saw 'n\\n' at line 1"},
  };
  for (const auto& [args, words] : cases) {
    absl::StatusOr<RunFlags> f = ParseRunArgs(args);
    ASSERT_FALSE(f.ok()) << words;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(f.status().message(), HasSubstr(words));
    EXPECT_EQ(f.status().message().find('\n'), absl::string_view::npos);
  }
}

TEST(ParseRunArgsTest, AnEchoedDsnLosesItsPassword) {
  absl::StatusOr<RunFlags> f =
      ParseRunArgs({"--dsn", "postgresql://u:Pl4nted@db/app", "stray"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), Not(HasSubstr("Pl4nted")));
}

}  // namespace
}  // namespace backfill
