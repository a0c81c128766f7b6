#ifndef BACKFILL_ENGINE_JOB_RUN_H_
#define BACKFILL_ENGINE_JOB_RUN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/checkpoint.h"
#include "backfill/engine/database.h"
#include "backfill/engine/job.h"
#include "backfill/engine/job_lease.h"
#include "backfill/engine/job_spec.h"
#include "backfill/engine/retry.h"
#include "backfill/throttle/chunk_sizer.h"
#include "backfill/throttle/clock.h"

namespace backfill {

// One Job::Run (internal to the engine; docs/DESIGN.md "The checkpoint
// format" follows it through a start, a resume and a reconnect): the
// state a run carries from chunk to chunk, and the steps of its loop:
//
//   Open            lock the job; load, resume or start its checkpoint
//   loop:
//     StopBeforeChunk   cancelled, paused, slice over: end at a boundary
//     WaitForPacing     hold until the throttle allows the next chunk
//     RunChunk          one chunk and its checkpoint, in one transaction
//     Recover           after a failed chunk: retry smaller, or reconnect
//     Committed         after a committed chunk: account and report
//
// Each step that may end the run returns an Ending: set (a report or an
// error) when the run ends there. Not thread-safe; lives on the stack of
// Job::Run, which owns everything it points to.
class JobRun {
 public:
  // The run ends here, with a report or an error, when set.
  using Ending = std::optional<absl::StatusOr<RunReport>>;

  JobRun(Database* db, const JobSpec& spec, const JobPlan& plan,
         const RunOptions& options);

  absl::StatusOr<RunReport> Execute();

 private:
  Ending Open();
  // A new checkpoint at the high-water mark read now.
  absl::Status StartCheckpoint();
  Ending StopBeforeChunk();
  // Sets *again when the wait stopped early: the loop top then says why.
  Ending WaitForPacing(int64_t rows, bool* again);
  bool ShouldStopWaiting(absl::Time wait_began);
  void OnThrottleWait(const Decision& decision);
  // Writing past an unreachable replica (--ignore-unreachable-replicas) is
  // said loudly: on every change of the set and every 30s while it lasts.
  void WarnOfIgnoredReplicas();
  Ending Recover(const absl::Status& error, absl::Time failed_at);
  // After a lost connection: reconnect, re-take the lease and adopt the
  // server's checkpoint (cp_.state is kDone if that one is).
  absl::Status Reconnect();
  Ending Committed(const ChunkRequest& request, const ChunkResult& result,
                   absl::Time chunk_start, absl::Time chunk_end);
  // What the sizer chose for the target chunk time, at most the throttle's
  // ChunkRowsCap, so that a slow pace spreads small chunks evenly instead
  // of one big burst now and then.
  int64_t NextRows() const;
  absl::StatusOr<RunReport> Finish(RunOutcome outcome, std::string reason);
  // Saves the final state of a run that stops without finishing.
  absl::StatusOr<RunReport> Stop(JobState state, RunOutcome outcome,
                                 std::string reason);
  bool cancelled() const;

  Database* const db_;
  const JobSpec& spec_;
  const JobPlan& plan_;
  const RunOptions& options_;
  Clock* const clock_;
  Observer null_observer_;
  Observer* const observer_;
  const absl::Time start_;
  JobLease lease_;  // released when the run ends
  ChunkSizer sizer_;
  Backoff backoff_;

  RunReport report_;
  Checkpoint cp_;
  int attempt_ = 0;  // failed attempts of the current chunk
  std::optional<absl::Time> unavailable_since_;
  bool pause_seen_ = false;  // the pause flag, seen while writes were held
  absl::Time pause_checked_;
  bool held_ = false;                 // the current pacing wait held writes
  std::vector<std::string> ignored_;  // unreachable replicas, as reported
  absl::Time ignored_reported_ = absl::InfinitePast();
  absl::Status lease_lost_;  // another run took the lease while writes held
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_JOB_RUN_H_
