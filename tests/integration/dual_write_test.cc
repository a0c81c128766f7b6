// docs/DESIGN.md invariant 2: while the application writes the old and the new
// shape together in one transaction, thousands of times, the backfill never
// overwrites an application write with an older value.
//
// Join shape: without the share lock on the chunk's source rows, an
// UPDATE ... FROM reads star from its snapshot and can write a stale
// star_count after the application's newer one. Copy shape: without it, an
// INSERT ... SELECT reads the old table from its snapshot and its upsert can
// put a stale amount over the application's newer dual-write.
//
// On MariaDB the suite runs under READ COMMITTED, as many production servers
// do: under the default REPEATABLE READ the server share-locks the rows an
// INSERT ... SELECT or a multi-table UPDATE reads by itself, and the tests
// could not fail without the engine's own locking.

#include <signal.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

constexpr int64_t kRows = 2000;

class DualWriteTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    // The suite runs serially (integration_serial_test), so the global
    // default touches no other test; new sessions (the engine's, the
    // application's) pick it up.
    if (db_->kind() == "mariadb") {
      db_->Exec("SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED");
    }
  }
  void TearDown() override {
    if (db_ != nullptr && db_->kind() == "mariadb") {
      db_->Exec("SET GLOBAL TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    }
    IntegrationTest::TearDown();
  }

  // Runs `args` (with --restart after the first pass) while two application
  // threads commit transactions made of the statements `transaction(rng)`
  // returns, until at least 2000 of them have committed during a pass (on a
  // slow or busy machine one pass may be too short for the test to mean
  // much). After each pass, counts the rows `lost_sql` finds in one snapshot:
  // the application keeps its pairs equal in every snapshot, so a row that
  // differs right after a pass is an application write the backfill
  // overwrote with an older value (checked per pass, because the next pass
  // would repair it). The tables are small (kRows) and the chunks tiny, so
  // that many transactions touch the chunk being written.
  using Transaction = std::function<std::vector<std::string>(std::mt19937_64&)>;
  void ExpectNoLostWrite(const std::vector<std::string>& args,
                         const Transaction& transaction,
                         const std::string& lost_sql) {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> committed{0}, rolled_back{0};
    auto application = [&](int seed) {
      std::unique_ptr<TestDb> conn = db_->Connect();
      std::mt19937_64 rng(seed);
      // The application's other work before it commits: the longer its
      // transaction is open, the more often a chunk overlaps it.
      const std::string work = db_->kind() == "postgres"
                                   ? "SELECT pg_sleep(0.002)"
                                   : "DO SLEEP(0.002)";
      while (!stop.load()) {
        std::vector<std::string> statements = transaction(rng);
        statements.push_back(work);
        if (conn->Transaction(statements)) {
          ++committed;
        } else {
          ++rolled_back;  // a real application retries; the values stay paired
        }
      }
    };
    std::thread writer1(application, 1), writer2(application, 2);
    int64_t concurrent = 0, lost = 0;
    int passes = 0;
    CliResult r;
    while (concurrent < 2000 && passes < 40) {
      std::vector<std::string> pass = args;
      if (passes > 0) pass.push_back("--restart");
      const int64_t before = committed.load();
      r = Run(pass);
      concurrent += committed.load() - before;
      ++passes;
      if (r.exit_code != 0) break;
      lost += db_->QueryInt(lost_sql);
    }
    stop = true;
    writer1.join();
    writer2.join();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GE(concurrent, 2000)
        << "too few concurrent writes in " << passes << " passes";
    EXPECT_EQ(lost, 0)
        << "rows that lost an application write, counted after each of "
        << passes << " passes, " << concurrent
        << " application transactions during them, " << rolled_back.load()
        << " rolled back";
    EXPECT_EQ(db_->QueryInt(lost_sql), 0);
  }
};

TEST_P(DualWriteTest, JoinBackfillLosesNoConcurrentDualWrite) {
  CreateRepoStar(kRows);
  ExpectNoLostWrite(
      {"--table", "repo", "--from", "star", "--on",
       "star.repo_name = repo.repo_name", "--set",
       "star_count = star.star_count", "--chunk-rows", "40",
       "--target-chunk-time", "0"},
      [&](std::mt19937_64& rng) {
        const int64_t repo = 1 + static_cast<int64_t>(rng() % kRows);
        const int64_t stars = static_cast<int64_t>(rng() % 100000);
        const std::string name = absl::StrCat("'repo-", repo, "'");
        return std::vector<std::string>{
            absl::StrCat("UPDATE star SET star_count = ", stars,
                         " WHERE repo_name = ", name),
            absl::StrCat("UPDATE repo SET star_count = ", stars,
                         " WHERE repo_name = ", name)};
      },
      "SELECT count(*) FROM repo JOIN star ON star.repo_name = repo.repo_name "
      "WHERE repo.star_count IS NULL OR repo.star_count <> star.star_count");
}

TEST_P(DualWriteTest, CopyBackfillLosesNoConcurrentDualWrite) {
  db_->Exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, amount INT NOT NULL)");
  db_->Exec(
      "CREATE TABLE orders_v2 (id BIGINT PRIMARY KEY, amount INT NOT NULL)");
  db_->Exec(
      db_->InsertSeries("orders", "id, amount", kRows, "g, (g * 37) % 1000"));
  // The application's write of the new table: an upsert, since the backfill
  // may not have copied the row yet.
  const std::string upsert_tail =
      db_->kind() == "postgres"
          ? " ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount"
          : " ON DUPLICATE KEY UPDATE amount = VALUES(amount)";
  ExpectNoLostWrite(
      {"--from", "orders", "--into", "orders_v2", "--columns", "id, amount",
       "--chunk-rows", "40", "--target-chunk-time", "0"},
      [&](std::mt19937_64& rng) {
        const int64_t id = 1 + static_cast<int64_t>(rng() % kRows);
        const int64_t amount = static_cast<int64_t>(rng() % 100000);
        return std::vector<std::string>{
            absl::StrCat("UPDATE orders SET amount = ", amount,
                         " WHERE id = ", id),
            absl::StrCat("INSERT INTO orders_v2 (id, amount) VALUES (", id,
                         ", ", amount, ")", upsert_tail)};
      },
      "SELECT count(*) FROM orders LEFT JOIN orders_v2 ON orders_v2.id = "
      "orders.id "
      "WHERE orders_v2.id IS NULL OR orders_v2.amount <> orders.amount");
}

BACKFILL_INSTANTIATE_WITH_POOLER(DualWriteTest);

}  // namespace
}  // namespace backfill::testing
