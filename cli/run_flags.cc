#include "cli/run_flags.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/toml_config.h"

namespace backfill {

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
  cmd->add_option("--statement-timeout", f->statement_timeout,
                  "longest one statement of backfill's own connection may run "
                  "on the primary; past it a chunk is retried smaller, and a "
                  "primary silent 5s longer counts as a lost connection "
                  "(default 30s; 0 = no bound)");
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

namespace {

// `text` with its control characters spelled out (\n, \t, \xNN): toml++
// quotes the character it choked on as it is, a newline included
// (tests/fuzz found "saw 'n\n' at line 1" on two lines).
std::string OneLine(absl::string_view text) {
  std::string out;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string ParseErrorMessage(const CLI::Error& error) {
  std::string what = error.what();
  // CLI11 says "INI was not able to parse run.wehre" for an unknown key (no
  // "run." when the key belongs to the app itself).
  constexpr absl::string_view kUnknown = "INI was not able to parse ";
  if (dynamic_cast<const CLI::ConfigError*>(&error) != nullptr &&
      absl::StartsWith(what, kUnknown)) {
    std::string key = what.substr(kUnknown.size());
    key = key.substr(key.rfind('.') + 1);  // npos + 1 == 0: the whole key
    what = absl::StrCat("--config: unknown key \"", key, "\"");
  }
  return RedactDsn(OneLine(what));
}

absl::StatusOr<RunFlags> ParseRunArgs(const std::vector<std::string>& args) {
  CLI::App app{"backfill run", "backfill run"};
  app.set_help_flag();
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config", "", "read flags from a TOML job file");
  app.allow_config_extras(CLI::config_extras_mode::error);
  RunFlags flags;
  AddRunFlags(&app, &flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::Error& e) {
    return absl::InvalidArgumentError(ParseErrorMessage(e));
  }
  flags.target_chunk_time_given = app.count("--target-chunk-time") > 0;
  return flags;
}

absl::StatusOr<RunInput> ParseRunInput(const RunFlags& flags) {
  RunInput in;
  absl::StatusOr<JobSpec> spec = BuildJobSpec(flags);
  if (!spec.ok()) return spec.status();
  in.spec = *std::move(spec);
  absl::StatusOr<ChunkSizerOptions> chunking = BuildChunking(flags);
  if (!chunking.ok()) return chunking.status();
  in.chunking = *chunking;
  absl::StatusOr<PacingSettings> pacing = ParsePacingFlags(flags.pacing);
  if (!pacing.ok()) return pacing.status();
  in.pacing = *std::move(pacing);
  if (absl::Status s =
          ParseDurationFlag("--retry-for", flags.retry_for, &in.retry_for);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseDurationFlag("--max-duration", flags.max_duration,
                                         &in.max_duration,
                                         /*allow_zero=*/false);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<ConnectOptions> connect = BuildConnectOptions(flags.common);
  if (!connect.ok()) return connect.status();
  in.connect = *std::move(connect);
  return in;
}

}  // namespace backfill
