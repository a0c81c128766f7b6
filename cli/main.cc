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

void AddCommon(CLI::App* cmd, CommonFlags* f, bool job_required) {
  cmd->add_option("--dsn", f->dsn,
                  "PostgreSQL: any libpq connection string (postgresql://"
                  "user@host:port[,host2:port2]/db?…, \"host=… dbname=…\", "
                  "service=NAME); MySQL: mysql://user@host:port/db "
                  "(password: --password-file, PGPASSWORD/~/.pgpass, "
                  "MYSQL_PWD/option files, or in the DSN)")
      ->required();
  cmd->add_option("--password-file", f->password_file,
                  "read the password from the first line of this file");
  cmd->add_option("--defaults-file", f->defaults_file,
                  "MySQL: read client options ([client], [backfill]) from "
                  "this option file instead of ~/.my.cnf and the others");
  auto* job = cmd->add_option(
      "--job", f->job, "job name (checkpoint key); default: the target table");
  if (job_required) job->required();
}

// The SHAPE flags and chunk sizing, shared by `run` and `verify`.
void AddShapeFlags(CLI::App* run, RunFlags* f) {
  AddCommon(run, &f->common, false);
  run->add_option("--table", f->table, "column, join: the table to update");
  run->add_option("--from", f->from,
                  "join: the table values come from; copy: the old table");
  run->add_option("--into", f->into, "copy: the new table");
  run->add_option(
      "--on", f->on,
      "join: the join condition, e.g. \"star.repo_name = repo.repo_name\"");
  run->add_option("--set", f->sets,
                  "column, join: \"col = expr\" (repeatable)");
  run->add_option("--columns", f->columns, "copy: \"a, b, c = expr\"");
  run->add_option("--where", f->where, "only rows matching this predicate");
  run->add_option("--key", f->key,
                  "walk this key instead of the primary key: \"a, b\"");
  run->add_option("--chunk-rows", f->chunk_rows,
                  "rows in the first chunk (default 1000)");
  run->add_option(
      "--target-chunk-time", f->target_chunk_time,
      "size chunks to take about this long (default 500ms; 0 = fixed size)");
  run->add_option("--min-chunk-rows", f->min_chunk_rows,
                  "smallest chunk (default 10)");
  run->add_option("--max-chunk-rows", f->max_chunk_rows,
                  "largest chunk (default 1000000)");
  // --config itself is the main app's (see Main); it reaches here through
  // fallthrough.
  run->fallthrough();
  run->footer(
      "--config FILE reads these flags from a TOML job file (long names as "
      "keys); flags given here override it.");
}

void AddRunFlags(CLI::App* run, RunFlags* f) {
  AddShapeFlags(run, f);
  run->add_flag("--dry-run", f->dry_run,
                "print the plan and one chunk's SQL; write nothing");
  run->add_flag("--restart", f->restart,
                "discard the checkpoint and start over");
  AddPacingFlags(run, &f->pacing);
  run->add_option("--retry-for", f->retry_for,
                  "keep reconnecting and retrying a lost connection this long "
                  "before failing (default 5m)");
  run->add_option("--max-duration", f->max_duration,
                  "end after about this long plus the chunk in flight, the "
                  "checkpoint committed, with exit code 5 (run again to go "
                  "on); a slice for job runners that shell out");
  run->add_option("--log-format", f->log_format, "auto (default), text or json")
      ->check(CLI::IsMember({"auto", "text", "json"}));
  run->add_option("--metrics-listen", f->metrics_listen,
                  "serve Prometheus /metrics at IP:PORT while the run lasts, "
                  "e.g. 127.0.0.1:9187");
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
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse run.wehre" for an unknown key.
    std::string what = e.what();
    const size_t dot = what.rfind('.');
    if (what.rfind("INI was not able to parse ", 0) == 0 &&
        dot != std::string::npos) {
      what = "--config: unknown key \"" + what.substr(dot + 1) + "\"";
    }
    std::fprintf(stderr, "backfill: %s\n", RedactDsn(what).c_str());
    return kExitBadInput;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "backfill: %s\n", RedactDsn(e.what()).c_str());
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
