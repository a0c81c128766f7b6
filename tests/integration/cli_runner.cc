#include "tests/integration/cli_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace backfill::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The default commit-latency pacing (--max-commit-latency 2x) waits on the
// disk's commit latency, which on a shared test machine jumps with whatever
// else runs; runs of tests about shapes, invariants and faults would go as
// slowly and unevenly as the disk. They run without it; the tests of the
// pacing itself (ApplicationPacingTest) and dry runs keep their own flags
// or the default.
std::vector<std::string> WithTestPacing(std::vector<std::string> args) {
  const bool run = !args.empty() && args[0] == "run";
  auto has = [&](const char* flag) {
    return std::find(args.begin(), args.end(), flag) != args.end();
  };
  if (run && !has("--max-commit-latency") && !has("--dry-run")) {
    args.push_back("--max-commit-latency");
    args.push_back("0");
  }
  return args;
}

}  // namespace

CliProcess::CliProcess(const std::vector<std::string>& args,
                       const std::vector<std::string>& env)
    : CliProcess(BACKFILL_BINARY, WithTestPacing(args), env) {}

CliProcess::CliProcess(const std::string& program,
                       const std::vector<std::string>& args,
                       const std::vector<std::string>& env) {
  char tmpl[] = "/tmp/backfill-cli-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::vector<std::string> argv_s = {program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  // `env` entries replace this process's variables of the same name.
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& mine : env) {
      replaced |= mine.substr(0, mine.find('=')) == name;
    }
    if (!replaced) env_s.push_back(entry);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open((dir_ + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open((dir_ + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv, envp;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

CliProcess::~CliProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  std::remove((dir_ + "/out").c_str());
  std::remove((dir_ + "/err").c_str());
  rmdir(dir_.c_str());
}

void CliProcess::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

bool CliProcess::Exited() {
  if (reaped_) return true;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

CliResult CliProcess::Wait(int timeout_seconds) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (!Exited()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      reaped_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CliResult r;
  r.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
  r.out = ReadFile(dir_ + "/out");
  r.err = ReadFile(dir_ + "/err");
  return r;
}

std::string CliProcess::StderrSoFar() const { return ReadFile(dir_ + "/err"); }

std::string CliProcess::CommandLine() const {
  std::string raw = ReadFile("/proc/" + std::to_string(pid_) + "/cmdline");
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  return raw;
}

CliResult RunCli(const std::vector<std::string>& args,
                 const std::vector<std::string>& env) {
  CliProcess p(args, env);
  return p.Wait();
}

}  // namespace backfill::testing
