#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backfill/adapters/database_factory.h"
#include "backfill/backfill.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/verify.h"
#include "cli/flag_terms.h"
#include "cli/pacing.h"
#include "cli/progress.h"
#include "cli/run_flags.h"
#include "cli/status_format.h"

namespace backfill {
namespace {

// Prints `status` (in flag terms: cli/flag_terms.h) and returns `code`.
int Fail(int code, const absl::Status& status) {
  std::string message = InFlagTerms(status.message());
  std::fprintf(stderr, "backfill: %s\n", message.c_str());
  return code;
}

absl::StatusOr<std::unique_ptr<Database>> Connect(const CommonFlags& flags) {
  absl::StatusOr<ConnectOptions> options = BuildConnectOptions(flags);
  if (!options.ok()) return options.status();
  return ConnectDatabase(*options);
}

LogFormat ChooseFormat(const std::string& flag) {
  if (flag == "json") return LogFormat::kJson;
  if (flag == "text") return LogFormat::kText;
  return isatty(STDERR_FILENO) ? LogFormat::kLive : LogFormat::kText;
}

void PrintPlan(const Job& job, const ChunkSizerOptions& chunking,
               const std::vector<std::string>& pacing,
               const std::vector<std::string>& pacing_notes) {
  const JobPlan& plan = job.plan();
  std::string out = absl::StrCat(
      "job:              ", job.spec().job, "\n",
      "spec:             ", DescribeJobSpec(job.spec()), "\n",
      "walked key:       ", absl::StrJoin(plan.key_columns, ", "), "\n",
      "estimated rows:   ", WithCommas(plan.rows_estimate), "\n",
      "first chunk:      ", WithCommas(chunking.initial_rows), " rows",
      chunking.target_chunk_time > absl::ZeroDuration()
          ? absl::StrCat(" (then sized to take ",
                         absl::FormatDuration(chunking.target_chunk_time), ")")
          : " (fixed)",
      "\n", "estimated chunks: ",
      WithCommas((plan.rows_estimate + chunking.initial_rows - 1) /
                 std::max<int64_t>(chunking.initial_rows, 1)),
      chunking.target_chunk_time > absl::ZeroDuration()
          ? " at the first chunk's size"
          : "",
      "\n");
  const std::optional<Checkpoint>& cp = job.existing_checkpoint();
  if (cp.has_value()) {
    absl::StrAppend(
        &out, "checkpoint:       ", JobStateName(cp->state), ", ",
        WithCommas(cp->rows_walked), " rows walked, last key ",
        cp->last_key.has_value() ? KeyToDisplay(*cp->last_key) : "-", "\n");
  } else {
    absl::StrAppend(&out, "checkpoint:       none (a new job)\n");
  }
  for (const std::string& line : pacing)
    absl::StrAppend(&out, "pacing:           ", InFlagTerms(line), "\n");
  if (pacing.empty()) absl::StrAppend(&out, "pacing:           none\n");
  for (const std::string& note : plan.notes)
    absl::StrAppend(&out, "note:             ", InFlagTerms(note), "\n");
  for (const std::string& note : pacing_notes)
    absl::StrAppend(&out, "note:             ", InFlagTerms(note), "\n");
  absl::StrAppend(&out, "statements of one chunk, in one transaction:\n");
  for (const std::string& sql : plan.chunk_sql)
    absl::StrAppend(&out, "  ", sql, ";\n");
  absl::StrAppend(&out, "dry run: nothing was written\n");
  std::fputs(out.c_str(), stdout);
}

}  // namespace

namespace {

// --dry-run: the plan, the pacing it would have, and nothing written.
void DryRun(const Job& job, const RunInput& in, bool target_given) {
  ChunkSizerOptions chunking = in.chunking;
  absl::StatusOr<std::vector<std::string>> notes =
      RunChunkTime(in.connect, in.pacing, target_given, &chunking);
  PrintPlan(job, chunking, DescribePacing(in.pacing),
            notes.ok() ? *notes : std::vector<std::string>());
}

}  // namespace

int RunCommand(const RunFlags& flags, const CancellationToken* cancel) {
  // With --log-format json, failures are JSON events like everything else.
  auto fail = [&](int code, const absl::Status& status) {
    if (flags.log_format != "json") return Fail(code, status);
    std::fprintf(stderr, "%s\n",
                 JsonErrorEvent(InFlagTerms(status), code, Clock::Real()->Now())
                     .c_str());
    return code;
  };
  absl::StatusOr<RunInput> in = ParseRunInput(flags);
  if (!in.ok()) return fail(kExitBadInput, in.status());
  absl::StatusOr<std::unique_ptr<Job>> job =
      OpenJob(in->connect, in->spec, flags.restart);
  if (!job.ok()) return fail(kExitBadInput, job.status());
  if (flags.dry_run) {
    DryRun(**job, *in, flags.target_chunk_time_given);
    return kExitOk;
  }

  ProgressPrinter printer(stderr, ChooseFormat(flags.log_format),
                          Clock::Real());
  // Bound before the run writes anything: a port in use is bad input. The
  // endpoint stops when `metrics_server` goes out of scope, as the run ends.
  RunMetrics metrics((*job)->spec().job);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!flags.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> server =
        MetricsServer::Start(flags.metrics_listen, &metrics);
    if (!server.ok()) return fail(kExitBadInput, server.status());
    metrics_server = *std::move(server);
    printer.OnMetricsListening(metrics_server->url());
  }
  ObserverList observers(
      {&printer, metrics_server != nullptr ? &metrics : nullptr});
  RunOptions options;
  options.chunking = in->chunking;
  options.restart = flags.restart;
  options.cancel = cancel;
  options.observer = &observers;
  options.lock_timeout = in->pacing.lock_timeout;
  options.retry_for = in->retry_for;
  options.max_duration = in->max_duration;
  // Signals on their own connections and threads, for the life of the run.
  absl::StatusOr<std::unique_ptr<Pacing>> pacing = OpenRunPacing(
      **job, in->connect, in->pacing, flags.target_chunk_time_given, &options);
  if (!pacing.ok()) return fail(kExitBadInput, pacing.status());
  absl::StatusOr<RunReport> report = RunPaced(
      **job, **pacing, options, metrics_server != nullptr ? &metrics : nullptr);
  if (!report.ok()) {
    return fail(
        kExitFailure,
        absl::Status(report.status().code(),
                     absl::StrCat("job ", (*job)->spec().job,
                                  " failed: ", report.status().message())));
  }
  return ExitCodeFor(report->outcome);
}

int VerifyCommand(const RunFlags& flags, int show,
                  const CancellationToken* cancel) {
  absl::StatusOr<JobSpec> spec = BuildJobSpec(flags);
  if (!spec.ok()) return Fail(kExitBadInput, spec.status());
  absl::StatusOr<ChunkSizerOptions> chunking = BuildChunking(flags);
  if (!chunking.ok()) return Fail(kExitBadInput, chunking.status());
  absl::StatusOr<std::unique_ptr<Database>> db = Connect(flags.common);
  if (!db.ok()) return Fail(kExitBadInput, db.status());
  VerifyOptions options;
  options.chunking = *chunking;
  options.show = std::max(show, 0);
  options.cancel = cancel;
  absl::StatusOr<VerifyReport> report = VerifyJob(**db, *spec, options);
  if (!report.ok()) {
    const bool bad_input = absl::IsInvalidArgument(report.status()) ||
                           absl::IsNotFound(report.status()) ||
                           absl::IsFailedPrecondition(report.status()) ||
                           absl::IsPermissionDenied(report.status());
    return Fail(bad_input ? kExitBadInput : kExitFailure, report.status());
  }
  std::string out =
      absl::StrCat("verified ", WithCommas(report->rows_walked), " rows in ",
                   WithCommas(report->chunks),
                   " chunks: ", WithCommas(report->mismatched), " differ");
  if (spec->shape == Shape::kCopy) {
    absl::StrAppend(&out, " (", WithCommas(report->missing), " missing from ",
                    spec->table.ToString(), ")");
  }
  absl::StrAppend(&out, "\n");
  for (const Key& key : report->sample)
    absl::StrAppend(&out, "  key ", KeyToDisplay(key), "\n");
  if (report->mismatched > static_cast<int64_t>(report->sample.size())) {
    absl::StrAppend(&out, "  …\n");
  }
  std::fputs(out.c_str(), stdout);
  if (!report->complete) {
    std::fputs("backfill: verify stopped before the end\n", stderr);
    return kExitStopped;
  }
  return report->mismatched == 0 ? kExitOk : kExitFailure;
}

int StatusCommand(const CommonFlags& flags, bool json) {
  absl::StatusOr<std::unique_ptr<Database>> db = Connect(flags);
  if (!db.ok()) return Fail(kExitBadInput, db.status());
  std::vector<Checkpoint> checkpoints;
  if (!flags.job.empty()) {
    absl::StatusOr<std::optional<Checkpoint>> cp =
        (*db)->LoadCheckpoint(flags.job);
    if (!cp.ok()) return Fail(kExitFailure, cp.status());
    if (!cp->has_value()) {
      return Fail(kExitBadInput, absl::NotFoundError(absl::StrCat(
                                     "no job named \"", flags.job, "\"")));
    }
    checkpoints.push_back(**cp);
  } else {
    absl::StatusOr<std::vector<Checkpoint>> all = (*db)->ListCheckpoints();
    if (!all.ok()) return Fail(kExitFailure, all.status());
    checkpoints = *std::move(all);
  }
  if (json) {
    if (!flags.job.empty()) {
      std::cout << CheckpointToJson(checkpoints[0]) << "\n";
    } else {
      std::cout << "[";
      for (size_t i = 0; i < checkpoints.size(); ++i) {
        std::cout << (i ? "," : "") << CheckpointToJson(checkpoints[i]);
      }
      std::cout << "]\n";
    }
  } else if (checkpoints.empty()) {
    std::cout << "no backfill jobs in this database\n";
  } else {
    std::cout << FormatStatusTable(checkpoints);
  }
  return kExitOk;
}

int PauseCommand(const CommonFlags& flags, bool pause) {
  absl::StatusOr<std::unique_ptr<Database>> db = Connect(flags);
  if (!db.ok()) return Fail(kExitBadInput, db.status());
  absl::Status s = (*db)->SetPauseRequested(flags.job, pause);
  if (absl::IsNotFound(s)) return Fail(kExitBadInput, s);
  if (!s.ok()) return Fail(kExitFailure, s);
  std::cout
      << "job " << flags.job
      << (pause
              ? ": pause requested; the running process stops after its "
                "current chunk (exit 3)\n"
              : ": resumed; run the same `backfill run` command to continue\n");
  return kExitOk;
}

}  // namespace backfill
