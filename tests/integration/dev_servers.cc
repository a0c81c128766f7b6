#include "tests/integration/dev_servers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "backfill/engine/dsn.h"

namespace backfill::testing {
namespace {

constexpr char kPgCtl[] = "/usr/lib/postgresql/15/bin/pg_ctl";

std::string DevDbDir() {
  const char* dir = std::getenv("BACKFILL_DEV_DB_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp/backfill-dev-db";
}

}  // namespace

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

std::string Capture(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  auto drain = [](int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, n);
    close(fd);
    return s;
  };
  std::string stdout_text = drain(out[0]);
  std::string stderr_text = drain(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(absl::StrCat(argv[0], " failed: ", stderr_text));
  }
  return std::string(absl::StripAsciiWhitespace(stdout_text));
}

std::string ReplicaSql(const TestDb& db, const std::string& sql) {
  if (db.kind() == "postgres") {
    return Capture({"psql", db.replica_dsn(), "-X", "-A", "-t", "-c", sql});
  }
  absl::StatusOr<Dsn> dsn = ParseDsn(db.replica_dsn());
  if (!dsn.ok()) throw std::runtime_error(std::string(dsn.status().message()));
  return Capture({"mysql", "-h", dsn->host, "-P", absl::StrCat(dsn->port), "-u",
                  dsn->user, absl::StrCat("-p", dsn->password.value_or("")),
                  "-D", dsn->database, "-N", "-B", "-e", sql});
}

DevServer::DevServer(bool postgres, std::string which)
    : postgres_(postgres), which_(std::move(which)) {}

std::string DevServer::Dir() const {
  return absl::StrCat(DevDbDir(), postgres_ ? "/pg-" : "/my-", which_);
}

bool DevServer::Running() const {
  try {
    if (postgres_) {
      // pg_ctl status exits 3 when the server is not running.
      Capture(
          {"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(), "status"});
    } else {
      Capture({"mariadb-admin", "--socket=" + Dir() + "/mysqld.sock", "-uroot",
               "ping"});
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void DevServer::Stop() {
  if (postgres_) {
    Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(), "-m",
             "fast", "-w", "stop"});
  } else {
    Capture({"mariadb-admin", "--socket=" + Dir() + "/mysqld.sock", "-uroot",
             "shutdown"});
  }
}

void DevServer::Start() {
  if (postgres_) {
    Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(), "-l",
             Dir() + "/server.log", "-w", "-t", "60", "start"});
    return;
  }
  Capture(
      {"runuser", "-u", "mysql", "--", "sh", "-c",
       absl::StrCat("nohup mariadbd --defaults-file='", Dir(), "/my.cnf' >>'",
                    Dir(), "/server.log' 2>&1 </dev/null &")});
  const auto t0 = std::chrono::steady_clock::now();
  while (!Running()) {
    if (SecondsSince(t0) > 60) {
      throw std::runtime_error("MariaDB " + which_ + " did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void DevServer::Promote() {
  Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(), "-w", "-t",
           "60", "promote"});
}

void RecloneDevPgReplica() {
  Capture({"bash", BACKFILL_DEV_DB_SCRIPT, "reclone-pg-replica"});
}

void DevServer::Restart() {
  if (postgres_) {
    Capture({"runuser", "-u", "postgres", "--", kPgCtl, "-D", Dir(), "-l",
             Dir() + "/server.log", "-m", "fast", "-w", "-t", "60", "restart"});
    return;
  }
  Stop();
  // mariadb-admin shutdown returns before the server is gone.
  const auto t0 = std::chrono::steady_clock::now();
  while (Running() && SecondsSince(t0) < 60) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Start();
}

}  // namespace backfill::testing
