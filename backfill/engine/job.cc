#include "backfill/engine/job.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/job_run.h"

namespace backfill {

absl::string_view RunOutcomeName(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kDone:
      return "done";
    case RunOutcome::kStopped:
      return "stopped";
    case RunOutcome::kPaused:
      return "paused";
    case RunOutcome::kSliceEnd:
      return "slice_end";
    case RunOutcome::kCritical:
      return "critical";
  }
  return "unknown";
}

Job::Job(std::unique_ptr<Database> db, JobSpec spec, JobPlan plan,
         std::optional<Checkpoint> existing)
    : db_(std::move(db)),
      spec_(std::move(spec)),
      plan_(std::move(plan)),
      existing_(std::move(existing)) {}

absl::StatusOr<std::unique_ptr<Job>> Job::Open(std::unique_ptr<Database> db,
                                               JobSpec spec, bool restart) {
  if (spec.job.empty()) spec.job = DefaultJobName(spec);
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
  absl::StatusOr<JobPlan> plan = db->Prepare(spec);
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::optional<Checkpoint>> existing =
      db->LoadCheckpoint(spec.job);
  if (!existing.ok()) return existing.status();
  if (existing->has_value() && !restart &&
      (*existing)->fingerprint != FingerprintJobSpec(spec)) {
    return SpecChangedError(spec.job, (*existing)->spec);
  }
  return std::unique_ptr<Job>(new Job(std::move(db), std::move(spec),
                                      *std::move(plan), *std::move(existing)));
}

absl::Status SpecChangedError(absl::string_view job, absl::string_view spec) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job \"", job, "\" has a checkpoint from a different spec (", spec,
      "); restart the job to start over with this one (`restart`), or "
      "run it under another job name"));
}

absl::StatusOr<RunReport> Job::Run(const RunOptions& options) {
  return JobRun(db_.get(), spec_, plan_, options).Execute();
}

}  // namespace backfill
