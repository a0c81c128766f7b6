#include "backfill/backfill.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace backfill {
absl::StatusOr<JobSpec> ColumnJob(absl::string_view table,
                                  const std::vector<std::string>& sets) {
  return ParseJobText({.table = std::string(table), .sets = sets});
}

absl::StatusOr<JobSpec> JoinJob(absl::string_view table, absl::string_view from,
                                absl::string_view on,
                                const std::vector<std::string>& sets) {
  if (from.empty())
    return absl::InvalidArgumentError("the join shape needs `from`");
  return ParseJobText({.table = std::string(table),
                       .from = std::string(from),
                       .on = std::string(on),
                       .sets = sets});
}

absl::StatusOr<JobSpec> CopyJob(absl::string_view from, absl::string_view into,
                                absl::string_view columns) {
  if (into.empty())
    return absl::InvalidArgumentError("the copy shape needs `into`");
  return ParseJobText({.from = std::string(from),
                       .into = std::string(into),
                       .columns = std::string(columns)});
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

absl::StatusOr<std::vector<std::string>> RunChunkTime(
    const ConnectOptions& connect, const PacingOptions& pacing,
    bool target_given, ChunkSizerOptions* chunking) {
  absl::StatusOr<Dsn> dsn = ParseDsn(connect.dsn);
  if (!dsn.ok()) return dsn.status();
  std::vector<std::string> notes;
  chunking->target_chunk_time = ChunkTimeForReplicas(
      pacing, dsn->kind, chunking->target_chunk_time, target_given, &notes);
  return notes;
}

absl::StatusOr<std::unique_ptr<Pacing>> OpenRunPacing(
    const Job& job, const ConnectOptions& connect, const PacingOptions& pacing,
    bool target_given, RunOptions* options) {
  absl::StatusOr<std::vector<std::string>> notes =
      RunChunkTime(connect, pacing, target_given, &options->chunking);
  if (!notes.ok()) return notes.status();
  const ChunkSizerOptions& chunking = options->chunking;
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
    for (const std::string& note : *notes) o->OnNote(note);
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
