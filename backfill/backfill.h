#ifndef BACKFILL_BACKFILL_BACKFILL_H_
#define BACKFILL_BACKFILL_BACKFILL_H_

// The public C++ API of backfill, for programs that embed it (a Sidekiq-,
// Kubernetes-Job- or cron-style job runner). The `backfill` command is a thin
// shell over the same calls. Installed with the CMake package:
//
//   find_package(backfill REQUIRED)
//   target_link_libraries(runner PRIVATE backfill::backfill)
//
// What this header brings in, and where each contract is stated:
//   JobSpec and its parsers          backfill/engine/job_spec.h
//   Job, RunOptions (max_duration,   backfill/engine/job.h
//     max_chunks, cancel, observer,
//     clock), RunReport, RunOutcome,
//     Observer, CancellationToken
//   ObserverList (several observers) backfill/engine/observer_list.h
//   ConnectOptions, DSN syntax       backfill/engine/dsn.h
//   ConnectDatabase                  backfill/adapters/database_factory.h
//   PacingOptions, OpenPacing,       backfill/pacing.h
//     DescribePacing
//   RunMetrics, MetricsServer        backfill/metrics/run_metrics.h,
//     (Prometheus /metrics)          backfill/metrics/metrics_server.h
//
// A slice-at-a-time runner (each call does at most `max_duration` of work
// plus the chunk in flight, and the checkpoint in the database carries the
// rest to the next call, in this process or another):
//
//   absl::StatusOr<backfill::JobSpec> spec =
//       backfill::ColumnJob("users", {"login_name = username"});
//   backfill::RunOptions options;
//   options.max_duration = absl::Seconds(30);
//   absl::StatusOr<backfill::RunReport> report =
//       backfill::Run({.dsn = "postgresql://app@db/app"}, *spec, options);
//   // report->outcome: kDone, or kSliceEnd to be called again.
//
// Paced on a replica's lag (and, by default, on the primary's commit
// latency), the same slice:
//
//   backfill::PacingOptions pacing;
//   pacing.replicas = {"postgresql://app@replica/app"};
//   pacing.lag.max_lag = absl::Seconds(1);
//   report = backfill::Run({.dsn = "postgresql://app@db/app"}, *spec,
//                          options, pacing);
//
// Thread-safety: the functions here are thread-compatible; run one job from
// one thread at a time (two processes running the same job are kept apart by
// the job lease, see Database::TakeLease).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/adapters/database_factory.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/job.h"
#include "backfill/engine/job_spec.h"
#include "backfill/engine/observer_list.h"
#include "backfill/metrics/metrics_server.h"
#include "backfill/metrics/run_metrics.h"
#include "backfill/pacing.h"

namespace backfill {

// JobSpecs for the three shapes (docs/DESIGN.md), from the same text the
// command line takes: each is ParseJobText (backfill/engine/job_spec.h,
// which also takes `where`, `key` and a job name) of the members named.
// Table names may be "schema.name" and quoted; each `sets` entry is
// "column = SQL expression". Set JobSpec::job, ::where and ::key on the
// result as needed. kInvalidArgument when the text does not parse or the
// spec is inconsistent (ValidateJobSpec); nothing is checked against a
// database until OpenJob.
//
// column: UPDATE table SET column = expr ... for the rows of `table` itself.
absl::StatusOr<JobSpec> ColumnJob(absl::string_view table,
                                  const std::vector<std::string>& sets);
// join: UPDATE table SET column = expr FROM from WHERE on, walking `table`;
// expressions may refer to `from`'s columns.
absl::StatusOr<JobSpec> JoinJob(absl::string_view table, absl::string_view from,
                                absl::string_view on,
                                const std::vector<std::string>& sets);
// copy: INSERT INTO into (columns) SELECT ... FROM from, walking `from`;
// `columns` is "a, b, c = expr, ..." (a bare name copies the column of the
// same name).
absl::StatusOr<JobSpec> CopyJob(absl::string_view from, absl::string_view into,
                                absl::string_view columns);

// Connects to `connect.dsn` (ConnectDatabase) and opens `spec` on it
// (Job::Open): validates the spec against the schema, type-checks the chunk
// statements and reads the job's checkpoint. Writes nothing. Fails with the
// codes of ConnectDatabase (kInvalidArgument for a bad DSN, kUnavailable,
// kUnauthenticated, kNotFound) or of Job::Open (kInvalidArgument, kNotFound,
// kFailedPrecondition, kPermissionDenied); every such failure is bad input
// or an unreachable server, and nothing was written.
absl::StatusOr<std::unique_ptr<Job>> OpenJob(const ConnectOptions& connect,
                                             JobSpec spec,
                                             bool restart = false);

// OpenJob(connect, spec, options.restart), then Job::Run(options) on its own
// connection, which is closed on return. Returns the run's report: kDone,
// or kStopped / kPaused / kSliceEnd / kCritical with a committed checkpoint
// that the next call (same spec, restart = false) continues from. Fails
// with OpenJob's errors before anything is written, else with Job::Run's
// (the checkpoint then holds the last committed chunk). To tell bad input
// from a runtime failure by phase, as the CLI's exit codes 2 and 1 do, call
// OpenJob and Job::Run separately.
//
// A runner calling this in slices must not set options.restart on any but
// the first call: it discards the checkpoint.
absl::StatusOr<RunReport> Run(const ConnectOptions& connect, JobSpec spec,
                              const RunOptions& options);

// Run, paced: as above, with the signals `pacing` asks for watching the
// primary of `connect` and its replicas (OpenPacing, each on its own
// connection), started before the first chunk (the commit latency's quiet
// baseline is measured then) and stopped when the run returns. On MySQL
// with replicas the chunk time is cut to a tenth of the lag limit unless
// options.chunking.target_chunk_time was changed from its default
// (ChunkTimeForReplicas). What paces the run, what is not watched and the
// measured baseline go to options.observer's OnNote. options.throttle must
// be null: the controller is this call's. Errors from opening the signals
// (bad replica DSNs, rejected credentials, a failing throttle query) are
// kInvalidArgument, before anything is written.
absl::StatusOr<RunReport> Run(const ConnectOptions& connect, JobSpec spec,
                              RunOptions options, const PacingOptions& pacing);

// The two halves of the paced Run, for a caller that tells bad input from a
// runtime failure by phase (the CLI's exit codes 2 and 1) or serves metrics.
//
// RunChunkTime sets *chunking's chunk time as the paced run will
// size its chunks (ChunkTimeForReplicas on the primary's kind: cut for MySQL
// replicas unless `target_given`) and returns the notes that say why; what
// OpenRunPacing does first, and what a dry run shows. kInvalidArgument for a
// bad DSN.
absl::StatusOr<std::vector<std::string>> RunChunkTime(
    const ConnectOptions& connect, const PacingOptions& pacing,
    bool target_given, ChunkSizerOptions* chunking);
//
// OpenRunPacing opens the signals `pacing` asks for on the primary of
// `connect` for `job` (OpenPacing), cuts options->chunking's chunk time for
// MySQL replicas unless `target_given` (ChunkTimeForReplicas), and tells
// options->observer (may be null) what paces the run and what is not
// watched. Writes nothing; its errors are bad input.
absl::StatusOr<std::unique_ptr<Pacing>> OpenRunPacing(
    const Job& job, const ConnectOptions& connect, const PacingOptions& pacing,
    bool target_given, RunOptions* options);

// RunPaced starts `pacing` (the commit latency's quiet baseline is measured
// then), runs `job` under its controller (options.throttle must be null),
// and stops it. `metrics` (may be null) reads the throttle's state at each
// scrape while the run lasts, and the baseline. The report carries the
// baseline for the next slice (RunReport::commit_latency_baseline).
absl::StatusOr<RunReport> RunPaced(Job& job, Pacing& pacing, RunOptions options,
                                   RunMetrics* metrics = nullptr);

}  // namespace backfill

#endif  // BACKFILL_BACKFILL_BACKFILL_H_
