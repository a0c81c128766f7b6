// DESIGN.md invariant 2: while the application updates star and repo together
// in one transaction, thousands of times, the join backfill never overwrites
// an application write with an older value. Without the share lock on the
// chunk's source rows, an UPDATE ... FROM reads star from its snapshot and
// can write a stale star_count after the application's newer one.

#include <signal.h>

#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using DualWriteTest = IntegrationTest;

TEST_P(DualWriteTest, JoinBackfillLosesNoConcurrentDualWrite) {
  constexpr int64_t kRepos = 40000;
  CreateRepoStar(kRepos);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> committed{0}, rolled_back{0};
  auto application = [&](int seed) {
    std::unique_ptr<TestDb> conn = db_->Connect();
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      // Hot rows near the backfill's path get most writes.
      const int64_t repo = 1 + static_cast<int64_t>(rng() % kRepos);
      const int64_t stars = static_cast<int64_t>(rng() % 100000);
      const std::string name = absl::StrCat("'repo-", repo, "'");
      if (conn->Transaction(
              {absl::StrCat("UPDATE star SET star_count = ", stars, " WHERE repo_name = ", name),
               absl::StrCat("UPDATE repo SET star_count = ", stars, " WHERE repo_name = ", name)})) {
        ++committed;
      } else {
        ++rolled_back;  // a real application retries; the values stay paired
      }
    }
  };
  std::thread writer1(application, 1), writer2(application, 2);

  // Walk the table (again, with --restart) until thousands of application
  // transactions have run concurrently with the backfill: on a slow or busy
  // machine one pass may be too short for the test to mean much.
  const std::vector<std::string> args = {
      "run", "--dsn", db_->dsn(), "--table", "repo", "--from", "star", "--on",
      "star.repo_name = repo.repo_name", "--set", "star_count = star.star_count",
      "--chunk-rows", "40", "--target-chunk-time", "0", "--log-format", "text"};
  int64_t concurrent = 0;
  int passes = 0;
  CliResult r;
  while (concurrent < 2000 && passes < 8) {
    std::vector<std::string> pass = args;
    if (passes > 0) pass.push_back("--restart");
    const int64_t before = committed.load();
    r = RunCli(pass);
    concurrent += committed.load() - before;
    ++passes;
    if (r.exit_code != 0) break;
  }
  stop = true;
  writer1.join();
  writer2.join();

  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(concurrent, 2000) << "too few concurrent writes in " << passes << " passes";
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM repo JOIN star ON star.repo_name = "
                          "repo.repo_name WHERE repo.star_count IS NULL OR "
                          "repo.star_count <> star.star_count"),
            0)
      << concurrent << " application transactions during " << passes << " passes, "
      << rolled_back.load() << " rolled back";
}

BACKFILL_INSTANTIATE(DualWriteTest);

}  // namespace
}  // namespace backfill::testing
