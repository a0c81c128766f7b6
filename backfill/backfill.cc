#include "backfill/backfill.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

absl::StatusOr<std::vector<Assignment>> ParseSets(
    const std::vector<std::string>& sets) {
  std::vector<Assignment> out;
  for (const std::string& set : sets) {
    absl::StatusOr<Assignment> a = ParseAssignment(set);
    if (!a.ok()) return a.status();
    out.push_back(*std::move(a));
  }
  return out;
}

absl::StatusOr<JobSpec> Validated(JobSpec spec) {
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
  return spec;
}

}  // namespace

absl::StatusOr<JobSpec> ColumnJob(absl::string_view table,
                                  const std::vector<std::string>& sets) {
  JobSpec spec;
  spec.shape = Shape::kColumn;
  absl::StatusOr<TableName> t = ParseTableName(table, "table");
  if (!t.ok()) return t.status();
  spec.table = *std::move(t);
  absl::StatusOr<std::vector<Assignment>> a = ParseSets(sets);
  if (!a.ok()) return a.status();
  spec.assignments = *std::move(a);
  return Validated(std::move(spec));
}

absl::StatusOr<JobSpec> JoinJob(absl::string_view table, absl::string_view from,
                                absl::string_view on,
                                const std::vector<std::string>& sets) {
  JobSpec spec;
  spec.shape = Shape::kJoin;
  absl::StatusOr<TableName> t = ParseTableName(table, "table");
  if (!t.ok()) return t.status();
  spec.table = *std::move(t);
  absl::StatusOr<TableName> f = ParseTableName(from, "from");
  if (!f.ok()) return f.status();
  spec.source = *std::move(f);
  spec.on = std::string(on);
  absl::StatusOr<std::vector<Assignment>> a = ParseSets(sets);
  if (!a.ok()) return a.status();
  spec.assignments = *std::move(a);
  return Validated(std::move(spec));
}

absl::StatusOr<JobSpec> CopyJob(absl::string_view from, absl::string_view into,
                                absl::string_view columns) {
  JobSpec spec;
  spec.shape = Shape::kCopy;
  absl::StatusOr<TableName> f = ParseTableName(from, "from");
  if (!f.ok()) return f.status();
  spec.source = *std::move(f);
  absl::StatusOr<TableName> t = ParseTableName(into, "into");
  if (!t.ok()) return t.status();
  spec.table = *std::move(t);
  absl::StatusOr<std::vector<Assignment>> a = ParseColumnList(columns);
  if (!a.ok()) return a.status();
  spec.assignments = *std::move(a);
  return Validated(std::move(spec));
}

absl::StatusOr<std::unique_ptr<Job>> OpenJob(const ConnectOptions& connect,
                                             JobSpec spec, bool restart) {
  absl::StatusOr<std::unique_ptr<Database>> db = ConnectDatabase(connect);
  if (!db.ok()) return db.status();
  return Job::Open(*std::move(db), std::move(spec), restart);
}

absl::StatusOr<RunReport> Run(const ConnectOptions& connect, JobSpec spec,
                              const RunOptions& options) {
  absl::StatusOr<std::unique_ptr<Job>> job =
      OpenJob(connect, std::move(spec), options.restart);
  if (!job.ok()) return job.status();
  return (*job)->Run(options);
}

absl::StatusOr<std::unique_ptr<Pacing>> OpenRunPacing(
    const Job& job, const ConnectOptions& connect, const PacingOptions& pacing,
    bool target_given, RunOptions* options) {
  absl::StatusOr<Dsn> dsn = ParseDsn(connect.dsn);
  if (!dsn.ok()) return dsn.status();
  std::vector<std::string> notes;
  ChunkSizerOptions& chunking = options->chunking;
  chunking.target_chunk_time = ChunkTimeForReplicas(
      pacing, dsn->kind, chunking.target_chunk_time, target_given, &notes);
  Clock* clock = options->clock != nullptr ? options->clock : Clock::Real();
  absl::StatusOr<std::unique_ptr<Pacing>> paced = OpenPacing(
      pacing, connect, job.spec().job, chunking.target_chunk_time, clock);
  if (!paced.ok()) return paced.status();
  if (Observer* o = options->observer; o != nullptr) {
    for (const std::string& line : DescribePacing(pacing)) {
      o->OnNote(absl::StrCat("pacing: ", line));
    }
    for (const std::string& note : job.plan().notes) o->OnNote(note);
    for (const std::string& note : (*paced)->notes) o->OnNote(note);
    for (const std::string& note : notes) o->OnNote(note);
  }
  return paced;
}

absl::StatusOr<RunReport> RunPaced(Job& job, Pacing& pacing, RunOptions options,
                                   RunMetrics* metrics) {
  if (options.throttle != nullptr) {
    return absl::InvalidArgumentError(
        "RunOptions::throttle must be null when the run is paced");
  }
  options.throttle = pacing.controller.get();
  if (metrics != nullptr) metrics->SetThrottle(options.throttle);
  pacing.Start(options.observer);
  const CommitLatency* c = pacing.commit_latency();
  if (metrics != nullptr && c != nullptr && c->baseline().has_value()) {
    metrics->SetCommitLatencyBaseline(*c->baseline());
  }
  absl::StatusOr<RunReport> report = job.Run(options);
  pacing.Stop();
  // The controller goes with `pacing`, before the caller's endpoint.
  if (metrics != nullptr) metrics->SetThrottle(nullptr);
  if (report.ok() && c != nullptr && c->baseline().has_value()) {
    report->commit_latency_baseline = *c->baseline();
  }
  return report;
}

absl::StatusOr<RunReport> Run(const ConnectOptions& connect, JobSpec spec,
                              RunOptions options, const PacingOptions& pacing) {
  if (options.throttle != nullptr) {
    return absl::InvalidArgumentError(
        "RunOptions::throttle must be null when pacing options are given");
  }
  absl::StatusOr<std::unique_ptr<Job>> job =
      OpenJob(connect, std::move(spec), options.restart);
  if (!job.ok()) return job.status();
  const bool target_given = options.chunking.target_chunk_time !=
                            ChunkSizerOptions().target_chunk_time;
  absl::StatusOr<std::unique_ptr<Pacing>> paced =
      OpenRunPacing(**job, connect, pacing, target_given, &options);
  if (!paced.ok()) return paced.status();
  return RunPaced(**job, **paced, std::move(options));
}

}  // namespace backfill
