// The `backfill` command: flags -> JobSpec -> engine. See docs/DESIGN.md
// ("Command line") and README.md.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include "backfill/engine/dsn.h"
#include "cli/argv_scrub.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/pacing.h"
#include "cli/run_flags.h"
#include "cli/toml_config.h"
#include "cli/version.h"

namespace backfill {
namespace {

CancellationToken* g_cancel = nullptr;

// First SIGINT/SIGTERM: finish the chunk in flight, checkpoint, exit 3.
// Second: die at once (the open chunk's transaction rolls back).
void OnSignal(int sig) {
  if (g_cancel->cancelled()) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_cancel->Cancel();
}

void InstallSignalHandlers(CancellationToken* token) {
  g_cancel = token;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// Parses the command line into the flags `app` declares; an exit code when
// the program ends here (help, version, or bad input, said on stderr).
std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "backfill: %s\n", ParseErrorMessage(e).c_str());
    return kExitBadInput;
  }
  return std::nullopt;
}

int Main(int argc, char** argv) {
  // Named, so that usage lines say "backfill" rather than argv[0].
  CLI::App app{
      "backfill: chunked, resumable, throttled data backfills "
      "(expand/migrate/contract step 3)",
      "backfill"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionLine());
  // CLI11 reads config files for the main app only: --config is declared
  // here, `run` and `verify` pass it up, and TomlConfig files the keys under
  // the subcommand given.
  app.config_formatter(std::make_shared<TomlConfig>(&app));
  app.set_config("--config", "",
                 "run, verify: read flags from a TOML job file; flags "
                 "override it");
  // CLI11 ignores unknown config keys by default: a typo such as `wehre = ...`
  // would silently drop the filter. Reject them, as toml_config.h promises.
  app.allow_config_extras(CLI::config_extras_mode::error);

  RunFlags run_flags;
  CLI::App* run =
      app.add_subcommand("run", "backfill old rows into the new shape");
  AddRunFlags(run, &run_flags);

  RunFlags verify_flags;
  int verify_show = 10;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "count rows where the new representation differs from f(old); read-only");
  AddShapeFlags(verify, &verify_flags);
  verify->add_option("--show", verify_show,
                     "list up to this many differing keys (default 10)");

  CommonFlags status_flags;
  bool status_json = false;
  CLI::App* status =
      app.add_subcommand("status", "show the checkpoints of jobs");
  AddCommon(status, &status_flags, false);
  status->add_flag("--json", status_json, "print JSON");

  CommonFlags pause_flags, resume_flags;
  CLI::App* pause =
      app.add_subcommand("pause", "ask a running job to stop after its chunk");
  AddCommon(pause, &pause_flags, true);
  CLI::App* resume =
      app.add_subcommand("resume", "clear the pause flag of a job");
  AddCommon(resume, &resume_flags, true);

  if (std::optional<int> exit = Parse(app, argc, argv)) return *exit;
  ScrubArgv(argc, argv);

  if (*run) {
    run_flags.target_chunk_time_given = run->count("--target-chunk-time") > 0;
    CancellationToken cancel;
    InstallSignalHandlers(&cancel);
    return RunCommand(run_flags, &cancel);
  }
  if (*verify) {
    CancellationToken cancel;
    InstallSignalHandlers(&cancel);
    return VerifyCommand(verify_flags, verify_show, &cancel);
  }
  if (*status) return StatusCommand(status_flags, status_json);
  if (*pause) return PauseCommand(pause_flags, true);
  if (*resume) return PauseCommand(resume_flags, false);
  return kExitBadInput;
}

}  // namespace
}  // namespace backfill

int main(int argc, char** argv) { return backfill::Main(argc, argv); }
