// docs/DESIGN.md invariants 1, 3, 4, 5, 6 and 8 on a real database. (2 and the
// kill -9 half of 4 are in the serial suite; 7 in bad_input_test; 9 in
// secrets_test.)

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "backfill/adapters/database_factory.h"
#include "backfill/engine/job.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

using InvariantsTest = IntegrationTest;

// users(id, username, login_name) with n rows, login_name NULL.
void CreateUsers(TestDb* db, int64_t n) {
  db->Exec(
      "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
      "login_name VARCHAR(64))");
  db->Exec(
      db->InsertSeries("users", "id, username", n, "g, concat('user', g)"));
}

const std::vector<std::string> kUsersJob = {"--table", "users", "--set",
                                            "login_name = username"};

std::vector<std::string> With(std::vector<std::string> a,
                              const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Invariant 1: a second run over correct rows writes nothing.
TEST_P(InvariantsTest, RerunOverCorrectRowsUpdatesNothing) {
  CreateUsers(db_.get(), 20000);
  ASSERT_EQ(Run(kUsersJob).exit_code, 0);
  const int64_t after_first = db_->RowsUpdated("users");
  EXPECT_EQ(after_first, 20000);

  CliResult again = Run(kUsersJob);  // a finished job: nothing to do
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already done"), std::string::npos) << again.err;
  CliResult restart =
      Run(With(kUsersJob, {"--restart"}));  // walks again, guard holds
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_EQ(db_->RowsUpdated("users"), after_first);
  CliResult status = Command("status", {"--job", "users", "--json"});
  EXPECT_NE(status.out.find("\"rows_written\":0"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\"rows_walked\":20000"), std::string::npos)
      << status.out;
}

// Invariant 1, partially: rows the application already dual-wrote are skipped.
TEST_P(InvariantsTest, RowsAlreadyCorrectAreNotRewritten) {
  CreateUsers(db_.get(), 10000);
  db_->Exec("UPDATE users SET login_name = username WHERE id <= 4000");
  const int64_t before = db_->RowsUpdated("users");
  ASSERT_EQ(Run(kUsersJob).exit_code, 0);
  EXPECT_EQ(db_->RowsUpdated("users") - before, 6000);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Invariant 3: the key range is fixed at start; later inserts are left to
// the application's dual-writes and the run still terminates.
TEST_P(InvariantsTest, HighWaterMarkIsFixedAtStart) {
  CreateUsers(db_.get(), 5000);
  auto open = [&] {
    absl::StatusOr<std::unique_ptr<Database>> conn =
        ConnectDatabase({db_->dsn(), std::nullopt});
    EXPECT_TRUE(conn.ok()) << conn.status();
    JobSpec spec;
    spec.table = {"", "users"};
    spec.assignments = {{"login_name", "username"}};
    absl::StatusOr<std::unique_ptr<Job>> job =
        Job::Open(*std::move(conn), spec, false);
    EXPECT_TRUE(job.ok()) << job.status();
    return *std::move(job);
  };
  RunOptions slice;
  slice.chunking.initial_rows = 1000;
  slice.chunking.target_chunk_time = absl::ZeroDuration();
  slice.max_chunks = 2;
  absl::StatusOr<RunReport> first = open()->Run(slice);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome, RunOutcome::kSliceEnd);
  EXPECT_EQ(first->checkpoint.high_water, Key{"5000"});

  db_->Exec(db_->InsertSeries("users", "id, username", 3000,
                              "5000 + g, concat('user', 5000 + g)"));
  RunOptions rest = slice;
  rest.max_chunks = 0;
  absl::StatusOr<RunReport> second = open()->Run(rest);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->outcome, RunOutcome::kDone);
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->rows_walked, 3000);
  EXPECT_EQ(Mismatches("users", "login_name", "username", "id <= 5000"), 0);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM users WHERE id > 5000 AND "
                          "login_name IS NOT NULL"),
            0);
}

// Invariant 5: a resume with a changed spec is refused unless --restart.
TEST_P(InvariantsTest, ChangedSpecIsRefusedUnlessRestart) {
  CreateUsers(db_.get(), 3000);
  ASSERT_EQ(Run(kUsersJob).exit_code, 0);
  const std::vector<std::string> changed = {"--table", "users", "--set",
                                            "login_name = upper(username)"};
  CliResult refused = Run(changed);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("different spec"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--restart"), std::string::npos) << refused.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);  // untouched

  CliResult restarted = Run(With(changed, {"--restart"}));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  EXPECT_EQ(Mismatches("users", "login_name", "upper(username)"), 0);
  // A different job name is a separate job with its own checkpoint.
  CliResult other = Run(With(kUsersJob, {"--job", "users-again"}));
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

// Invariants 4 and 8: SIGTERM finishes the chunk in flight, commits its
// checkpoint, exits 3; the data matches the checkpoint exactly; a second run
// finishes the job.
TEST_P(InvariantsTest, SigtermStopsAtAChunkBoundaryAndResumes) {
  CreateUsers(db_.get(), 200000);
  std::vector<std::string> args = {
      "run",  "--dsn",        db_->dsn(), "--log-format",
      "text", "--chunk-rows", "500",      "--target-chunk-time",
      "0"};
  args.insert(args.end(), kUsersJob.begin(), kUsersJob.end());
  CliProcess process(args);
  ASSERT_TRUE(WaitForChunks("users", 5)) << "job users never reached 5 chunks";
  process.Signal(SIGTERM);
  CliResult r = process.Wait();
  ASSERT_EQ(r.exit_code, 3) << r.err;

  CliResult status = Command("status", {"--job", "users", "--json"});
  EXPECT_NE(status.out.find("\"state\":\"stopped\""), std::string::npos)
      << status.out;
  // last_key is stored as a JSON array: ["12345"].
  const int64_t last = std::stoll(
      db_->Query(
             "SELECT last_key FROM backfill_checkpoints WHERE job = 'users'")
          ->substr(2));
  ASSERT_GT(last, 0);
  ASSERT_LT(last, 200000)
      << "the run finished before the signal; make the table bigger";
  EXPECT_EQ(Mismatches("users", "login_name", "username",
                       absl::StrCat("id <= ", last)),
            0);
  EXPECT_EQ(
      db_->QueryInt(absl::StrCat(
          "SELECT count(*) FROM users WHERE login_name IS NOT NULL AND id > ",
          last)),
      0);

  CliResult resumed = Run(kUsersJob);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming after key"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Slices from the shell: --max-duration ends the run after about that long
// plus the chunk in flight, checkpoint committed, with exit 5 ("run
// again"); the next run goes on from it and finishes exact.
TEST_P(InvariantsTest, MaxDurationEndsASliceWithExitFiveAndTheNextGoesOn) {
  CreateUsers(db_.get(), 200000);
  const auto t0 = std::chrono::steady_clock::now();
  CliResult slice = RunCli(
      UsersRunArgs(db_->dsn(), {"--max-duration", "1s", "--max-rows-per-second",
                                "20000", "--max-commit-latency", "0"}));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(slice.exit_code, 5) << slice.err;
  EXPECT_LT(took, 10) << "the slice did not end near its duration";
  const int64_t walked = db_->QueryInt(
      "SELECT rows_walked FROM backfill_checkpoints WHERE job = 'users'");
  EXPECT_GT(walked, 0);
  EXPECT_LT(walked, 200000) << "the slice finished the job; make it bigger";
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS "
                          "NOT NULL"),
            walked);

  CliResult rest = Run(kUsersJob);
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.err.find("resuming after key"), std::string::npos) << rest.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(InvariantsTest, MaxDurationThatIsNotADurationIsBadInput) {
  CreateUsers(db_.get(), 100);
  check_pool_ = false;  // refused before it connects
  CliResult r = RunCli(UsersRunArgs(db_->dsn(), {"--max-duration", "soon"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // JSON logs (UsersRunArgs): the reason is a JSON string.
  EXPECT_NE(r.err.find(R"(--max-duration: \"soon\" is not a duration)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS "
                          "NOT NULL"),
            0);
}

// Invariant 8: `backfill pause` from another shell stops the running job
// (exit 3); a run of a paused job does nothing until `backfill resume`.
TEST_P(InvariantsTest, PauseFromAnotherShellStopsTheRun) {
  CreateUsers(db_.get(), 200000);
  std::vector<std::string> args = {
      "run", "--dsn", db_->dsn(), "--chunk-rows", "500", "--target-chunk-time",
      "0"};
  args.insert(args.end(), kUsersJob.begin(), kUsersJob.end());
  CliProcess process(args);
  ASSERT_TRUE(WaitForChunks("users", 3)) << "job users never reached 3 chunks";
  CliResult pause = Command("pause", {"--job", "users"});
  ASSERT_EQ(pause.exit_code, 0) << pause.err;
  CliResult r = process.Wait();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("paused by operator"), std::string::npos) << r.err;

  CliResult blocked = Run(kUsersJob);
  EXPECT_EQ(blocked.exit_code, 3) << blocked.err;
  EXPECT_NE(blocked.err.find("backfill resume"), std::string::npos)
      << blocked.err;
  CliResult status = Command("status", {});
  EXPECT_NE(status.out.find("paused"), std::string::npos) << status.out;

  ASSERT_EQ(Command("resume", {"--job", "users"}).exit_code, 0);
  CliResult done = Run(kUsersJob);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

TEST_P(InvariantsTest, PauseOfAnUnknownJobIsBadInput) {
  CliResult r = Command("pause", {"--job", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no job named \"nope\""), std::string::npos) << r.err;
}

TEST_P(InvariantsTest, DryRunPrintsThePlanAndWritesNothing) {
  CreateUsers(db_.get(), 1000);
  CliResult r = Run(With(kUsersJob, {"--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("estimated rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UPDATE"), std::string::npos) << r.out;
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      0);
}

// A MySQL replica applies a chunk only once committed: with --replica the
// default chunk time is a tenth of --max-lag there; PostgreSQL keeps 500ms.
// (A dry run parses --replica but does not connect to it.)
TEST_P(InvariantsTest, DryRunShowsTheChunkTimeForReplicas) {
  CreateUsers(db_.get(), 1000);
  CliResult r = Run(With(kUsersJob, {"--dry-run", "--replica", db_->dsn()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (db_->kind() == "mariadb") {
    EXPECT_NE(r.out.find("then sized to take 100ms"), std::string::npos)
        << r.out;
    EXPECT_NE(
        r.out.find("note:             chunks sized to take 100ms, not 500ms"),
        std::string::npos)
        << r.out;
    CliResult given = Run(With(kUsersJob, {"--dry-run", "--replica", db_->dsn(),
                                           "--target-chunk-time", "500ms"}));
    ASSERT_EQ(given.exit_code, 0) << given.err;
    EXPECT_NE(given.out.find("then sized to take 500ms"), std::string::npos)
        << given.out;
    EXPECT_NE(given.out.find("--max-lag 1s may be overshot"), std::string::npos)
        << given.out;
  } else {
    EXPECT_NE(r.out.find("then sized to take 500ms"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("chunks sized to take"), std::string::npos) << r.out;
  }
}

// --config FILE (docs/DESIGN.md "Command line") reaches `run`: its --where
// limits the rows written, a flag on the command line beats the file, and a
// misspelled key is bad input with nothing written. (CLI11 reads config files
// for the main app only; this once went unread.)
TEST_P(InvariantsTest, ConfigFileFlagsApplyAndTheCommandLineWins) {
  CreateUsers(db_.get(), 100);
  const std::string path =
      ::testing::TempDir() + "/backfill_" + db_->kind() + ".toml";
  {
    std::ofstream out(path);
    out << "table = \"users\"\nset = [\"login_name = username\"]\n"
           "where = \"id <= 30\"\nchunk-rows = 1\ntarget-chunk-time = \"0\"\n";
  }
  CliResult r = Run({"--config", path, "--chunk-rows", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      30);
  EXPECT_EQ(Mismatches("users", "login_name", "username", "id <= 30"), 0);
  EXPECT_EQ(Chunks("users"), 10);  // --chunk-rows 10 beat the file's 1

  {
    std::ofstream out(path);
    out << "table = \"users\"\nset = [\"login_name = username\"]\nwehre = \"id "
           "> 50\"\n";
  }
  CliResult typo = Run({"--config", path, "--job", "typo"});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_NE(typo.err.find("--config: unknown key \"wehre\""), std::string::npos)
      << typo.err;
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      30);
  std::remove(path.c_str());
}

TEST_P(InvariantsTest, ASecondProcessCannotRunTheSameJob) {
  CreateUsers(db_.get(), 200000);
  // At 2000 rows/s the first run lasts 100 s, however slowly the second
  // one starts (under a sanitizer it took longer than an unpaced first run).
  std::vector<std::string> args = {"run",      "--dsn",
                                   db_->dsn(), "--chunk-rows",
                                   "200",      "--target-chunk-time",
                                   "0",        "--max-rows-per-second",
                                   "2000"};
  args.insert(args.end(), kUsersJob.begin(), kUsersJob.end());
  CliProcess first(args);
  ASSERT_TRUE(WaitForChunks("users", 2)) << "job users never reached 2 chunks";
  CliResult second = Run(kUsersJob);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("already running"), std::string::npos)
      << second.err;
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait().exit_code, 3);
}

// The job lease is a row with holder and expiry (it works through poolers):
// a live run on another host holds the job until its lease expires, then
// it is taken over; each run gives its lease up when it ends.
TEST_P(InvariantsTest, LeaseOfARunElsewhereHoldsTheJobUntilItExpires) {
  CreateUsers(db_.get(), 3000);
  db_->Exec("CREATE TABLE warm (id BIGINT PRIMARY KEY, a INT, b INT)");
  db_->Exec(db_->InsertSeries("warm", "id, a", 10, "g, g"));
  CliResult warm =
      Run({"--table", "warm", "--set", "b = a"});  // creates the tables
  ASSERT_EQ(warm.exit_code, 0) << warm.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM backfill_leases"), 0)
      << "a finished run left its lease behind";
  const bool postgres = db_->kind() == "postgres";
  const std::string now = postgres ? "now()" : "UTC_TIMESTAMP(6)";
  db_->Exec(absl::StrCat(
      "INSERT INTO backfill_leases (job, holder, expires_at, taken_at) VALUES "
      "('users', 'host=elsewhere.example pid=4242 start=7 boot=b pidns=1 "
      "run=1', ",
      postgres ? "now() + interval '1 hour'"
               : "UTC_TIMESTAMP(6) + INTERVAL 1 HOUR",
      ", ", now, ")"));
  CliResult held = Run(kUsersJob);
  EXPECT_EQ(held.exit_code, 1) << held.err;
  EXPECT_NE(held.err.find("already running in another backfill process "
                          "(elsewhere.example pid 4242); its lease expires in"),
            std::string::npos)
      << held.err;
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      0);

  db_->Exec(absl::StrCat("UPDATE backfill_leases SET expires_at = ",
                         postgres ? "now() - interval '1 second'"
                                  : "UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"));
  CliResult taken = Run(kUsersJob);
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM backfill_leases"), 0);
}

// Every chunk renews the lease in its own transaction and commits nothing
// once another run holds it (this one was stalled past its expiry, say).
TEST_P(InvariantsTest, ALeaseTakenOverMidRunStopsTheRunWithoutCommitting) {
  CreateUsers(db_.get(), 100000);
  CliProcess run(
      With({"run", "--dsn", db_->dsn(), "--chunk-rows", "500",
            "--target-chunk-time", "0", "--max-rows-per-second", "10000"},
           kUsersJob));
  ASSERT_TRUE(WaitForChunks("users", 3)) << run.StderrSoFar();
  db_->Exec(
      "UPDATE backfill_leases SET holder = 'host=thief.example pid=7 start=1 "
      "boot=b pidns=1 run=1' WHERE job = 'users'");
  const int64_t at_theft = Chunks("users");
  CliResult r = run.Wait(60);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("took over its lease"), std::string::npos) << r.err;
  // At most the chunk that was committing when the lease changed hands.
  EXPECT_LE(Chunks("users"), at_theft + 1);
  ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
  // The thief's lease is left alone.
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM backfill_leases WHERE holder LIKE "
                    "'host=thief.example%'"),
      1);
}

// Invariant 6: chunk bounds come from the key's index, never a scan.
TEST_P(InvariantsTest, ChunkingNeverScansTheWholeTable) {
  CreateUsers(db_.get(), 50000);
  db_->Analyze("users");
  const int64_t before = db_->SequentialScans("users");
  if (before < 0) GTEST_SKIP() << "this server does not count scans per table";
  ASSERT_EQ(
      Run(With(kUsersJob, {"--chunk-rows", "1000", "--target-chunk-time", "0"}))
          .exit_code,
      0);
  EXPECT_EQ(db_->SequentialScans("users"), before);
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
}

// Invariant 6 for the join's other table: a chunk looks its source rows up
// through the source's index, never by reading the whole source table. (On
// PostgreSQL the planner would hash all of star for each chunk of this size.)
TEST_P(InvariantsTest, JoinChunksNeverScanTheWholeSourceTable) {
  constexpr int64_t kRepos = 100000;
  CreateRepoStar(kRepos);
  db_->Analyze("repo");
  db_->Analyze("star");
  const int64_t before = db_->SequentialScans("star");
  if (before < 0) GTEST_SKIP() << "this server does not count scans per table";
  CliResult r = Run({"--table", "repo", "--from", "star", "--on",
                     "star.repo_name = repo.repo_name", "--set",
                     "star_count = star.star_count", "--chunk-rows", "10000",
                     "--target-chunk-time", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("uses no index"), std::string::npos) << r.err;
  EXPECT_EQ(db_->SequentialScans("star"), before);
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM repo JOIN star ON star.repo_name = "
                    "repo.repo_name WHERE repo.star_count IS NULL OR "
                    "repo.star_count <> star.star_count"),
      0);
}

// Without an index for the source lookups the join still runs, and the
// operator is told why its chunks will slow down as the source grows.
TEST_P(InvariantsTest, JoinWithoutSourceIndexRunsAndSaysSo) {
  if (db_->kind() != "postgres") GTEST_SKIP() << "a PostgreSQL planner note";
  db_->Exec(
      "CREATE TABLE repo (id BIGINT PRIMARY KEY, repo_name VARCHAR(100), "
      "star_count INT)");
  db_->Exec("CREATE TABLE star (repo_name VARCHAR(100), star_count INT)");
  db_->Exec(db_->InsertSeries("repo", "id, repo_name", 20000,
                              "g, concat('repo-', g)"));
  db_->Exec(db_->InsertSeries("star", "repo_name, star_count", 20000,
                              "concat('repo-', g), g % 1000"));
  db_->Analyze("repo");
  db_->Analyze("star");
  const std::vector<std::string> job = {
      "--table", "repo",
      "--from",  "star",
      "--on",    "star.repo_name = repo.repo_name",
      "--set",   "star_count = star.star_count"};
  CliResult dry = Run(With(job, {"--dry-run"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(
      dry.out.find(
          "note:             the --on lookup into \"star\" uses no index"),
      std::string::npos)
      << dry.out;
  CliResult r = Run(job);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("the --on lookup into \"star\" uses no index"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM repo JOIN star ON star.repo_name = "
                    "repo.repo_name WHERE repo.star_count IS NULL OR "
                    "repo.star_count <> star.star_count"),
      0);
}

BACKFILL_INSTANTIATE_WITH_POOLER(InvariantsTest);

}  // namespace
}  // namespace backfill::testing
