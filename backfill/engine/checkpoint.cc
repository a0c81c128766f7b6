#include "backfill/engine/checkpoint.h"

#include <algorithm>

#include "absl/strings/string_view.h"

namespace backfill {

absl::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kRunning:
      return "running";
    case JobState::kStopped:
      return "stopped";
    case JobState::kPaused:
      return "paused";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
  }
  return "failed";
}

JobState ParseJobState(absl::string_view name) {
  for (JobState s : {JobState::kRunning, JobState::kStopped, JobState::kPaused,
                     JobState::kDone, JobState::kFailed}) {
    if (JobStateName(s) == name) return s;
  }
  return JobState::kFailed;
}

double Checkpoint::progress() const {
  if (state == JobState::kDone) return 1.0;
  if (rows_estimate <= 0) return 0.0;
  // The estimate comes from planner statistics and can be low; never claim
  // completion before the walk reaches the high-water mark.
  return std::min(0.99, static_cast<double>(rows_walked) / rows_estimate);
}

}  // namespace backfill
