#ifndef BACKFILL_ENGINE_CHECKPOINT_H_
#define BACKFILL_ENGINE_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backfill/engine/key.h"

namespace backfill {

// Lifecycle of a job as recorded in its checkpoint row.
enum class JobState {
  kRunning,  // a process is (or was, until it died) walking the range
  kStopped,  // stopped cleanly (signal, slice end, pause); resumable
  kPaused,   // stopped because an operator ran `backfill pause`
  kDone,     // the whole range up to the high-water mark is written
  kFailed,   // stopped on an error that retrying could not fix; resumable
};

absl::string_view JobStateName(JobState state);
// Unknown names read back as kFailed, so they are never mistaken for done.
JobState ParseJobState(absl::string_view name);

// One row of the checkpoint table (`backfill_checkpoints` in the target
// database), keyed by job name. The adapter writes `last_key`, the row
// counters and `state` in the same transaction as each chunk's data
// (docs/DESIGN.md invariant 4); everything else is written when a run starts,
// stops or is restarted.
struct Checkpoint {
  std::string job;
  std::string fingerprint;  // FingerprintJobSpec of the spec that started it
  std::string spec;         // DescribeJobSpec, for humans
  // Largest key of the walked table when the job started (invariant 3).
  // nullopt when the table was empty: there is nothing to do.
  std::optional<Key> high_water;
  // Largest key whose chunk has committed; nullopt before the first chunk.
  std::optional<Key> last_key;
  int64_t rows_estimate = 0;  // walked rows expected, from the planner
  int64_t rows_walked = 0;    // rows of the walked table covered so far
  int64_t rows_written =
      0;  // rows actually changed (the guard skips equal rows)
  int64_t chunks = 0;
  JobState state = JobState::kRunning;
  bool pause_requested = false;
  std::string message;  // why it stopped or failed; empty when running
  absl::Time started_at = absl::InfinitePast();
  absl::Time updated_at = absl::InfinitePast();

  // Fraction of the walk done, in [0, 1]; 1 when done.
  double progress() const;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_CHECKPOINT_H_
