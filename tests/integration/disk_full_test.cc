// The target table's storage filling up mid-run (issue 17): the table lives
// on a small filesystem the test mounts (tmpfs), so the backfill's writes
// fill it while the server's WAL, redo log and binlog stay on the data
// directory's disk. The run must end with exit 1 and a message that says the
// disk is full, its checkpoint consistent with the data; once the
// filesystem is grown, a resume finishes exact.
//
// PostgreSQL: an in-place tablespace (allow_in_place_tablespaces, so that the
// replica on this host replays it into its own data directory) whose
// version directory the small filesystem is mounted on. MariaDB: the table's
// DATA DIRECTORY on it, created on the primary without binlogging (the
// replica on this host would reuse the same path) and on the replica in its
// own data directory.
//
// Mounting needs root; CI runs as root. In the serial suite: the servers'
// checkpoints and file handles are shared with every other test.

#include <pwd.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"

namespace backfill::testing {
namespace {

// A tmpfs of a given size at `dir` (which must exist), owned by `owner`;
// lazily unmounted on destruction.
class SmallFilesystem {
 public:
  SmallFilesystem(std::string dir, const std::string& owner, int64_t bytes)
      : dir_(std::move(dir)) {
    const passwd* pw = getpwnam(owner.c_str());
    if (pw == nullptr) throw std::runtime_error("no user " + owner);
    Capture({"mount", "-t", "tmpfs", "-o",
             absl::StrCat("size=", bytes, ",mode=0700,uid=", pw->pw_uid,
                          ",gid=", pw->pw_gid),
             "backfill-disk-full", dir_});
    mounted_ = true;
  }
  ~SmallFilesystem() {
    if (mounted_) std::system(("umount -l " + dir_).c_str());
  }

  // Grows or shrinks it to `bytes`.
  void Resize(int64_t bytes) {
    Capture({"mount", "-o", absl::StrCat("remount,size=", bytes), dir_});
  }
  int64_t Used() const {
    struct statvfs st;
    if (statvfs(dir_.c_str(), &st) != 0) throw std::runtime_error("statvfs");
    return static_cast<int64_t>((st.f_blocks - st.f_bfree) * st.f_frsize);
  }

 private:
  const std::string dir_;
  bool mounted_ = false;
};

constexpr int64_t kRows = 100000;
constexpr char kUsersColumns[] =
    "(id BIGINT PRIMARY KEY, username VARCHAR(64), login_name VARCHAR(64))";

class DiskFullTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "mounting a filesystem needs root";
    postgres_ = db_->kind() == "postgres";
  }

  void TearDown() override {
    try {
      db_->Exec("DROP TABLE IF EXISTS users");
      if (postgres_) db_->Exec("CHECKPOINT");  // unlinks the dropped files
      fs_.reset();
      if (postgres_ && !tablespace_.empty()) {
        db_->Exec("DROP TABLESPACE IF EXISTS " + tablespace_);
      }
      if (!dir_.empty()) std::filesystem::remove(dir_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
    IntegrationTest::TearDown();
  }

  // users(id, username, login_name NULL) with kRows rows, on a filesystem
  // with about `headroom` of its used size free.
  void CreateUsersOnSmallFilesystem(double headroom) {
    if (postgres_) {
      CreatePostgresTable();
    } else {
      CreateMariadbTable();
    }
    db_->Exec(db_->InsertSeries("users", "id, username", kRows,
                                "g, concat('user', g)"));
    const int64_t used = fs_->Used();
    fs_->Resize(used + static_cast<int64_t>(used * headroom) + (64 << 10));
    std::printf("[ disk-full ] the table takes %lld kB of the filesystem\n",
                static_cast<long long>(used >> 10));
  }

  void CreatePostgresTable() {
    tablespace_ = absl::StrCat("bf_small_", getpid());
    db_->Exec("SET allow_in_place_tablespaces = on");
    db_->Exec(absl::StrCat("CREATE TABLESPACE ", tablespace_, " LOCATION ''"));
    const std::string oid =
        db_->Query(absl::StrCat("SELECT oid FROM pg_tablespace "
                                "WHERE spcname = '",
                                tablespace_, "'"))
            .value_or("");
    const std::string data = db_->Query("SHOW data_directory").value_or("");
    const std::filesystem::path dir =
        std::filesystem::path(data) / "pg_tblspc" / oid;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      fs_ = std::make_unique<SmallFilesystem>(entry.path().string(), "postgres",
                                              64 << 20);
    }
    if (fs_ == nullptr) throw std::runtime_error("no tablespace directory");
    db_->Exec(absl::StrCat("CREATE TABLE users ", kUsersColumns, " TABLESPACE ",
                           tablespace_));
  }

  void CreateMariadbTable() {
    char tmpl[] = "/tmp/backfill-disk-full-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    fs_ = std::make_unique<SmallFilesystem>(dir_, "mysql", 64 << 20);
    db_->Exec("SET SESSION sql_log_bin = 0");
    db_->Exec(absl::StrCat("CREATE TABLE users ", kUsersColumns,
                           " ENGINE=InnoDB DATA DIRECTORY = '", dir_, "'"));
    db_->Exec("SET SESSION sql_log_bin = 1");
    // Not binlogged there either: a GTID of the replica's own would collide
    // with the primary's next one (gtid_strict_mode).
    ReplicaSql(*db_,
               absl::StrCat("SET SESSION sql_log_bin = 0; CREATE TABLE users ",
                            kUsersColumns));
  }

  std::string CheckpointState() {
    return db_
        ->Query("SELECT state FROM backfill_checkpoints WHERE job = 'users'")
        .value_or("");
  }

  bool ReplicaCatchesUp() {
    const std::string want = absl::StrCat(kRows);
    for (int i = 0; i < 600; ++i) {
      if (ReplicaSql(*db_,
                     "SELECT count(*) FROM users WHERE login_name = "
                     "username") == want) {
        return true;
      }
      usleep(100000);
    }
    return false;
  }

  bool postgres_ = false;
  std::string tablespace_;
  std::string dir_;
  std::unique_ptr<SmallFilesystem> fs_;
};

TEST_P(DiskFullTest, FullStorageStopsWithTheCheckpointIntactAndResumes) {
  CreateUsersOnSmallFilesystem(/*headroom=*/0.2);
  const std::vector<std::string> args = UsersRunArgs(db_->dsn(), {});

  CliProcess first(args);
  CliResult r = first.Wait(300);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("disk is full"), std::string::npos) << r.err;
  EXPECT_EQ(CheckpointState(), "failed");
  const int64_t last =
      ExpectDataMatchesCheckpoint("users", "users", "login_name", "username");
  EXPECT_GT(last, 0) << "nothing was written before the disk filled up";
  EXPECT_LT(last, kRows) << "the disk never filled up";
  std::printf(
      "[ disk-full ] stopped at id %lld of %lld: %s\n",
      static_cast<long long>(last), static_cast<long long>(kRows),
      db_->Query("SELECT message FROM backfill_checkpoints WHERE job = 'users'")
          .value_or("")
          .c_str());

  fs_->Resize(256 << 20);
  CliProcess second(args);
  r = second.Wait(300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CheckpointState(), "done");
  EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);
  // The replica applied it all: the setup did not break replication.
  EXPECT_TRUE(ReplicaCatchesUp()) << "the replica never got every row";
}

BACKFILL_INSTANTIATE(DiskFullTest);

}  // namespace
}  // namespace backfill::testing
