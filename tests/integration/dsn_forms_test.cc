// Connection strings as their users write them: PostgreSQL's libpq forms (a
// multi-host URI with target_session_attrs, key/value, service= with a
// service file, ~/.pgpass) and MySQL option files (--defaults-file, the
// defaults-file DSN parameter, ~/.my.cnf). Each one runs a backfill, and a
// password planted in it never shows in any output, error, `status` or the
// process title (docs/DESIGN.md invariant 9). Malformed strings are one line,
// exit 2, nothing written, and no piece of the password.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/dsn.h"
#include "tests/integration/dev_servers.h"
#include "tests/integration/fixture.h"
#include "tests/integration/pg_test_dsn.h"

namespace backfill::testing {
namespace {

constexpr char kPlanted[] = "Pl4nted-Form-S3cret";
constexpr char kUser[] = "bf_forms";

// A scratch directory under /tmp, removed with its files.
class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/backfill-forms-XXXXXX";
    dir_ = mkdtemp(path);
  }
  ~TempDir() { std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()); }
  // Writes `content` to `name` (mode 0600, as libpq wants for ~/.pgpass).
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << content;
    chmod(path.c_str(), 0600);
    return path;
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

class DsnFormsTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    postgres_ = db_->kind() == "postgres";
    login_ = db_->CreateUser(kUser, kPlanted);
    db_->Exec(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, username VARCHAR(64), "
        "login_name VARCHAR(64))");
    db_->Exec(
        db_->InsertSeries("users", "id, username", 20000, "g, concat('u', g)"));
  }

  // host, port and database name of the scratch database on the primary.
  std::string Host() { return Part("host"); }
  std::string Port() { return Part("port"); }
  std::string Database() { return Part("dbname"); }
  std::string Part(const std::string& which) {
    if (postgres_) return PgParams(login_)[which];
    absl::StatusOr<Dsn> d = ParseDsn(login_);
    if (which == "host") return d->host;
    if (which == "port") return absl::StrCat(d->port);
    return d->database;
  }

  // Runs the users job through `dsn` (with extra flags and environment),
  // then status, verify, a rerun with --restart and a failing run; checks
  // the process title while the first run runs. Expects the runs to
  // succeed and the data to be right; returns every output.
  std::vector<std::string> Exercise(const std::string& dsn,
                                    const std::vector<std::string>& flags,
                                    const std::vector<std::string>& env) {
    std::vector<std::string> outputs;
    auto with = [&](std::vector<std::string> args) {
      args.insert(args.begin() + 3, flags.begin(), flags.end());
      return args;
    };
    const std::vector<std::string> shape = {"--table", "users", "--set",
                                            "login_name = username"};
    std::vector<std::string> run =
        with({"run", "--dsn", dsn, "--chunk-rows", "500", "--target-chunk-time",
              "0", "--max-rows-per-second", "40000", "--log-format", "json"});
    run.insert(run.end(), shape.begin(), shape.end());
    CliProcess running(run, env);
    // The process title, once the process has rewritten its arguments (a
    // password in them then shows as "***").
    const bool argv_has_password = absl::StrContains(dsn, kPlanted);
    std::string cmdline;
    for (int i = 0; i < 1000 && !running.Exited(); ++i) {
      cmdline = running.CommandLine();
      if (!argv_has_password || absl::StrContains(cmdline, "***")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(!argv_has_password || absl::StrContains(cmdline, "***"))
        << cmdline;
    outputs.push_back(cmdline);
    CliResult r = running.Wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    outputs.push_back(r.out);
    outputs.push_back(r.err);
    EXPECT_EQ(Mismatches("users", "login_name", "username"), 0);

    for (std::vector<std::string> args :
         {with({"status", "--dsn", dsn}),
          with({"status", "--dsn", dsn, "--json"})}) {
      CliResult s = RunCli(args, env);
      EXPECT_EQ(s.exit_code, 0) << s.err;
      EXPECT_TRUE(absl::StrContains(s.out, "done")) << s.out;
      outputs.push_back(s.out);
      outputs.push_back(s.err);
    }
    std::vector<std::string> verify = with({"verify", "--dsn", dsn});
    verify.insert(verify.end(), shape.begin(), shape.end());
    CliResult v = RunCli(verify, env);
    EXPECT_EQ(v.exit_code, 0) << v.err;
    std::vector<std::string> again =
        with({"run", "--dsn", dsn, "--restart", "--log-format", "text"});
    again.insert(again.end(), shape.begin(), shape.end());
    CliResult rerun = RunCli(again, env);
    EXPECT_EQ(rerun.exit_code, 0) << rerun.err;
    CliResult bad = RunCli(
        with({"run", "--dsn", dsn, "--table", "users", "--set", "nosuch = 1"}),
        env);
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
    for (const CliResult* c : {&v, &rerun, &bad}) {
      outputs.push_back(c->out);
      outputs.push_back(c->err);
    }
    return outputs;
  }

  static void ExpectNoSecret(const std::vector<std::string>& outputs) {
    ASSERT_GE(outputs.size(), 10u);
    for (const std::string& o : outputs) {
      EXPECT_FALSE(absl::StrContains(o, kPlanted)) << o;
      EXPECT_FALSE(absl::StrContains(o, "Pl4nted")) << o;
    }
  }

  bool postgres_ = false;
  std::string login_;  // the planted user's URI, as TestDb made it
};

TEST_P(DsnFormsTest, PostgresMultiHostUriFindsThePrimary) {
  if (!postgres_) GTEST_SKIP() << "libpq's multi-host URI";
  // The standby first: target_session_attrs=read-write makes libpq skip it.
  // libpq tries the next host when a server is read-only, not when it
  // refuses the database: wait until the replica has replayed it.
  const auto t0 = std::chrono::steady_clock::now();
  while (true) {
    try {
      if (ReplicaSql(*db_, "SELECT count(*) FROM users") == "20000") break;
    } catch (const std::exception&) {
    }
    ASSERT_LT(SecondsSince(t0), 60) << "the replica never got the table";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::map<std::string, std::string> replica =
      PgParams(db_->replica_dsn());
  const std::string dsn = absl::StrCat(
      "postgresql://", kUser, ":", kPlanted, "@", replica.at("host"), ":",
      replica.at("port"), ",", Host(), ":", Port(), "/", Database(),
      "?target_session_attrs=read-write");
  ExpectNoSecret(Exercise(dsn, {}, {}));
}

TEST_P(DsnFormsTest, PostgresKeyValueConninfo) {
  if (!postgres_) GTEST_SKIP() << "libpq's key/value form";
  const std::string dsn = absl::StrCat(
      "host=", Host(), " port=", Port(), " dbname=", Database(),
      " user=", kUser, " password='", kPlanted, "' application_name='kv form'");
  std::vector<std::string> outputs = Exercise(dsn, {}, {});
  ExpectNoSecret(outputs);
  // The process title shows the string with the password hidden.
  EXPECT_TRUE(absl::StrContains(outputs.front(), "password=***"))
      << outputs.front();
}

TEST_P(DsnFormsTest, PostgresServiceFile) {
  if (!postgres_) GTEST_SKIP() << "libpq's service file";
  TempDir dir;
  const std::string file =
      dir.Write("pg_service.conf",
                absl::StrCat("[bf_forms]\nhost=", Host(), "\nport=", Port(),
                             "\ndbname=", Database(), "\nuser=", kUser,
                             "\npassword=", kPlanted, "\n"));
  ExpectNoSecret(Exercise("service=bf_forms", {}, {"PGSERVICEFILE=" + file}));
}

TEST_P(DsnFormsTest, PostgresPgpassAndPgpassword) {
  if (!postgres_) GTEST_SKIP() << "libpq's password file";
  TempDir dir;
  const std::string pgpass =
      dir.Write("pgpass", absl::StrCat(Host(), ":", Port(), ":", Database(),
                                       ":", kUser, ":", kPlanted, "\n"));
  const std::string uri = absl::StrCat("postgresql://", kUser, "@", Host(), ":",
                                       Port(), "/", Database());
  ExpectNoSecret(Exercise(uri, {}, {"PGPASSFILE=" + pgpass}));
  ExpectNoSecret(Exercise(uri, {}, {absl::StrCat("PGPASSWORD=", kPlanted)}));
}

TEST_P(DsnFormsTest, MysqlDefaultsFile) {
  if (postgres_) GTEST_SKIP() << "MySQL option files";
  TempDir dir;
  const std::string file = dir.Write(
      "backfill.cnf", absl::StrCat("[client]\nhost=", Host(), "\nport=", Port(),
                                   "\n[backfill]\nuser=", kUser,
                                   "\npassword=", kPlanted, "\n"));
  const std::string dsn = absl::StrCat("mysql:///", Database());
  ExpectNoSecret(Exercise(dsn, {"--defaults-file", file}, {}));
  ExpectNoSecret(Exercise(absl::StrCat(dsn, "?defaults-file=", file), {}, {}));
}

TEST_P(DsnFormsTest, MysqlHomeMyCnf) {
  if (postgres_) GTEST_SKIP() << "MySQL option files";
  TempDir dir;
  dir.Write(".my.cnf",
            absl::StrCat("[client]\nhost=", Host(), "\nport=", Port(),
                         "\nuser=", kUser, "\npassword=", kPlanted, "\n"));
  ExpectNoSecret(Exercise(absl::StrCat("mysql:///", Database()), {},
                          {"HOME=" + dir.path()}));
}

TEST_P(DsnFormsTest, MalformedStringsAreOneLineAndHideThePassword) {
  std::vector<std::vector<std::string>> cases;
  if (postgres_) {
    cases = {
        {absl::StrCat("host=", Host(), " port=", Port(), " password=", kPlanted,
                      " dbname")},
        {absl::StrCat("postgresql://u:", kPlanted, "/frag@", Host(), "/db")},
        {absl::StrCat("postgresql://u:Pl4n@ted@", Host(), "/db")},
        {absl::StrCat("postgresql://u:", kPlanted, "@", Host(),
                      "/db?no_such_param=1")},
        {login_, "--defaults-file", "/etc/mysql/my.cnf"},
    };
  } else {
    cases = {
        {absl::StrCat("mysql://u:", kPlanted, "@", Host(), ":", Port())},
        {absl::StrCat("mysql://u:", kPlanted, "@", Host(), ":99999/db")},
        {absl::StrCat("mysql:///", Database(),
                      "?defaults-file=/nonexistent/x.cnf&bogus=1")},
    };
  }
  for (const std::vector<std::string>& c : cases) {
    std::vector<std::string> args = {"run", "--dsn"};
    args.insert(args.end(), c.begin(), c.end());
    for (const char* a :
         {"--table", "users", "--set", "login_name = username"}) {
      args.push_back(a);
    }
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 2) << c[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(absl::StrContains(r.err, "Pl4n")) << r.err;
    EXPECT_FALSE(absl::StrContains(r.err, "frag")) << r.err;
    EXPECT_FALSE(absl::StrContains(r.err, "ted@")) << r.err;
  }
  EXPECT_FALSE(db_->TableExists("backfill_checkpoints"));
  EXPECT_EQ(
      db_->QueryInt("SELECT count(*) FROM users WHERE login_name IS NOT NULL"),
      0);
}

BACKFILL_INSTANTIATE(DsnFormsTest);

}  // namespace
}  // namespace backfill::testing
