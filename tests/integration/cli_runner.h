#ifndef BACKFILL_TESTS_INTEGRATION_CLI_RUNNER_H_
#define BACKFILL_TESTS_INTEGRATION_CLI_RUNNER_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace backfill::testing {

struct CliResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string out;
  std::string err;
};

// A `backfill` process started from the build tree (BACKFILL_BINARY), its
// stdout and stderr captured to files. A `run` without --max-commit-latency
// (and without --dry-run) gets --max-commit-latency 0: see WithTestPacing in
// cli_runner.cc.
class CliProcess {
 public:
  // `env` entries ("NAME=value") are added to this process's environment,
  // replacing a variable of the same name.
  CliProcess(const std::vector<std::string>& args,
             const std::vector<std::string>& env = {});
  // Any other program (an absolute path), with `args` as they are.
  CliProcess(const std::string& program, const std::vector<std::string>& args,
             const std::vector<std::string>& env);
  ~CliProcess();

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit (killing it after `timeout_seconds`) and collects output.
  CliResult Wait(int timeout_seconds = 600);
  // True once the process has exited (reaps it).
  bool Exited();
  // The stderr written so far.
  std::string StderrSoFar() const;
  // The process's command line as /proc/PID/cmdline shows it (NULs as spaces).
  std::string CommandLine() const;

 private:
  pid_t pid_ = -1;
  std::string dir_;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs `backfill args...` to completion.
CliResult RunCli(const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {});

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_CLI_RUNNER_H_
