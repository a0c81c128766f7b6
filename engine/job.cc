#include "engine/job.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "engine/job_lease.h"
#include "engine/retry.h"

namespace backfill {
namespace {

// Mirrors in memory what RunChunk committed to the checkpoint row.
void ApplyChunk(const ChunkRequest& q, const ChunkResult& r, Checkpoint* cp,
                absl::Time now) {
  cp->last_key = r.upper;
  cp->rows_walked += r.rows_walked;
  cp->rows_written += r.rows_written;
  cp->chunks += 1;
  cp->updated_at = now;
  cp->message = q.message;
  if (r.last) cp->state = JobState::kDone;
}

// After a reconnect: adopt the checkpoint `again` read back from the server
// (the new primary after a failover) in place of the run's own `cp`. A chunk
// whose acknowledgement was lost committed in this run: count it once, as
// the checkpoint does. With asynchronous replication the new primary may
// also be behind the chunks the old one committed: those chunks were lost
// with their data and are redone. Returns a warning for the operator, or "".
std::string AdoptReloaded(const Checkpoint& again, Checkpoint* cp,
                          RunReport* report) {
  std::string warning;
  if (again.chunks < cp->chunks) {
    warning = absl::StrCat(
        "the checkpoint on the server is ", cp->chunks - again.chunks,
        " chunks behind this run's last commit (a failover lost them with "
        "their data): redoing them from ",
        again.last_key.has_value() ? EncodeKey(*again.last_key) : "the start");
  }
  report->rows_walked = std::max<int64_t>(
      0, report->rows_walked + again.rows_walked - cp->rows_walked);
  report->rows_written = std::max<int64_t>(
      0, report->rows_written + again.rows_written - cp->rows_written);
  report->chunks =
      std::max<int64_t>(0, report->chunks + again.chunks - cp->chunks);
  const bool pause = cp->pause_requested;
  *cp = again;
  cp->pause_requested = pause;
  return warning;
}

}  // namespace

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
    return absl::FailedPreconditionError(absl::StrCat(
        "job \"", spec.job, "\" has a checkpoint from a different spec (",
        (*existing)->spec,
        "); pass --restart to start over with this one, "
        "or --job NAME to run it as a separate job"));
  }
  return std::unique_ptr<Job>(new Job(std::move(db), std::move(spec),
                                      *std::move(plan), *std::move(existing)));
}

absl::StatusOr<RunReport> Job::Run(const RunOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : Clock::Real();
  Observer null_observer;
  Observer* observer =
      options.observer != nullptr ? options.observer : &null_observer;
  const absl::Time start = clock->Now();
  const std::string fingerprint = FingerprintJobSpec(spec_);

  RunReport report;
  auto finish = [&](RunOutcome outcome, std::string reason,
                    const Checkpoint& cp) -> absl::StatusOr<RunReport> {
    report.outcome = outcome;
    report.reason = std::move(reason);
    report.elapsed = clock->Now() - start;
    report.checkpoint = cp;
    observer->OnFinish(report);
    return report;
  };

  if (absl::Status s = db_->EnsureCheckpointTable(); !s.ok()) return s;
  JobLease lease(db_.get(), spec_.job, clock);  // released when Run returns
  if (absl::Status s = lease.Take(); !s.ok()) return s;
  absl::StatusOr<std::optional<Checkpoint>> loaded =
      db_->LoadCheckpoint(spec_.job);
  if (!loaded.ok()) return loaded.status();
  std::optional<Checkpoint> existing = *std::move(loaded);

  if (existing.has_value() && !options.restart &&
      existing->fingerprint != fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job \"", spec_.job, "\" has a checkpoint from a different spec (",
        existing->spec, "); pass --restart to start over"));
  }
  if (existing.has_value() && existing->pause_requested) {
    return finish(
        RunOutcome::kPaused,
        absl::StrCat("paused by operator; run `backfill resume --job ",
                     spec_.job, "` to let it continue"),
        *existing);
  }

  Checkpoint cp;
  if (!existing.has_value() || options.restart) {
    absl::StatusOr<std::optional<Key>> high = db_->HighWaterMark();
    if (!high.ok()) return high.status();
    cp.job = spec_.job;
    cp.fingerprint = fingerprint;
    cp.spec = DescribeJobSpec(spec_);
    cp.high_water = *std::move(high);
    cp.rows_estimate = plan_.rows_estimate;
    cp.state = cp.high_water.has_value() ? JobState::kRunning : JobState::kDone;
    cp.started_at = cp.updated_at = clock->Now();
  } else {
    cp = *std::move(existing);
    report.resumed = true;
    if (cp.state == JobState::kDone) {
      return finish(RunOutcome::kDone, "already done", cp);
    }
    cp.state = JobState::kRunning;
    cp.message.clear();
    cp.updated_at = clock->Now();
  }
  if (options.throttle != nullptr) {
    cp.message = options.throttle->PacingSummary();
  }
  if (absl::Status s = db_->SaveCheckpoint(cp); !s.ok()) return s;
  observer->OnStart(cp, plan_, report.resumed);
  if (cp.state == JobState::kDone) {
    return finish(RunOutcome::kDone, "the table is empty", cp);
  }

  // Writes the final state of a run that stops without finishing.
  auto stop = [&](JobState state, RunOutcome outcome,
                  std::string reason) -> absl::StatusOr<RunReport> {
    cp.state = state;
    cp.message = reason;
    cp.updated_at = clock->Now();
    if (absl::Status s = db_->SaveCheckpoint(cp); !s.ok()) return s;
    return finish(outcome, std::move(reason), cp);
  };

  ChunkSizer sizer(options.chunking);
  // The next chunk's size: what the sizer chose for the target chunk time,
  // at most a tenth of a second of the rate in force, so that a slow pace
  // spreads small chunks evenly instead of one big burst now and then.
  auto next_rows = [&] {
    const int64_t cap =
        options.throttle != nullptr ? options.throttle->ChunkRowsCap() : 0;
    return cap > 0 ? std::min(sizer.next_rows(), cap) : sizer.next_rows();
  };
  Backoff backoff(clock);
  int attempt = 0;  // failed attempts of the current chunk
  std::optional<absl::Time> unavailable_since;
  // Set when the pause flag is seen while the throttle holds writes.
  bool pause_seen = false;
  absl::Time pause_checked = clock->Now();
  // Unreachable replicas the throttle ignores, as last reported.
  std::vector<std::string> ignored;
  absl::Time ignored_reported = absl::InfinitePast();
  absl::Status lease_lost;  // another run took the lease while writes held
  while (true) {
    if (!lease_lost.ok()) return lease_lost;
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      return stop(JobState::kStopped, RunOutcome::kStopped,
                  "stopped by signal");
    }
    if (pause_seen) {
      cp.pause_requested = true;
      return stop(JobState::kPaused, RunOutcome::kPaused, "paused by operator");
    }
    if (options.max_chunks > 0 && report.chunks >= options.max_chunks) {
      return stop(JobState::kStopped, RunOutcome::kSliceEnd,
                  absl::StrCat("slice ended after ", report.chunks, " chunks"));
    }
    // A slice makes progress: its first chunk runs however long opening
    // took (a busy server can take a slice's whole budget to lock the job
    // and save the checkpoint), unless pacing held writes through it.
    if (clock->Now() - start >= options.max_duration &&
        (report.chunks > 0 || report.throttled > absl::ZeroDuration())) {
      return stop(JobState::kStopped, RunOutcome::kSliceEnd,
                  absl::StrCat("slice ended after ",
                               absl::FormatDuration(options.max_duration)));
    }

    const int64_t rows = next_rows();
    if (options.throttle != nullptr) {
      // Between chunks: wait until pacing allows the next one. The loop top
      // handles whatever stopped the wait.
      const absl::Time wait_began = clock->Now();
      auto should_stop = [&] {
        if (options.cancel != nullptr && options.cancel->cancelled())
          return true;
        const absl::Time now = clock->Now();
        // Past the slice's end: stop if it made progress or this wait has
        // held writes (the loop top then ends the slice).
        if (now - start >= options.max_duration &&
            (report.chunks > 0 || now > wait_began)) {
          return true;
        }
        if (absl::Status r = lease.RenewIfDue();
            absl::IsFailedPrecondition(r)) {
          lease_lost = r;
          return true;
        }
        if (now - pause_checked >= absl::Seconds(1)) {
          pause_checked = now;
          absl::StatusOr<std::optional<Checkpoint>> flag =
              db_->LoadCheckpoint(spec_.job);
          // An error here is left to the next chunk to find.
          if (flag.ok() && flag->has_value() && (*flag)->pause_requested) {
            pause_seen = true;
          }
        }
        return pause_seen;
      };
      bool held = false;
      auto on_wait = [&](const Decision& d) {
        held = true;
        observer->OnThrottle(d);
        // Best effort: `status` shows why the job is not advancing. The
        // next chunk's checkpoint update clears the message.
        cp.message = absl::StrCat("throttled: ", d.reason);
        cp.updated_at = clock->Now();
        (void)db_->SaveCheckpoint(cp);
      };
      WaitResult wait =
          options.throttle->WaitUntilAllowed(rows, should_stop, on_wait);
      report.throttled += wait.waited;
      if (wait.outcome == WaitResult::Outcome::kCritical) {
        return stop(JobState::kStopped, RunOutcome::kCritical, wait.reason);
      }
      if (held) {
        cp.message.clear();
        if (wait.outcome == WaitResult::Outcome::kProceed) {
          observer->OnThrottle(Decision{});
        }
      }
      if (wait.outcome == WaitResult::Outcome::kStopped) continue;
      // Writing past an unreachable replica (--ignore-unreachable-replicas)
      // is said loudly: on every change and every 30s while it lasts.
      const Decision now_decision = options.throttle->Check();
      std::vector<std::string> names, reasons;
      for (const auto& [name, reason] : now_decision.ignored) {
        names.push_back(name);
        reasons.push_back(reason);
      }
      const absl::Time now = clock->Now();
      if (names != ignored ||
          (!names.empty() && now - ignored_reported >= absl::Seconds(30))) {
        if (!names.empty()) {
          observer->OnWarning(
              absl::StrCat("writing although ", names.size(),
                           names.size() == 1 ? " replica is" : " replicas are",
                           " unreachable (--ignore-unreachable-replicas): ",
                           absl::StrJoin(reasons, "; ")));
        } else {
          observer->OnWarning(absl::StrCat("replicas reachable again: ",
                                           absl::StrJoin(ignored, ", ")));
        }
        ignored = std::move(names);
        ignored_reported = now;
      }
    }

    ChunkRequest request{spec_.job, cp.last_key, *cp.high_water, rows};
    request.lock_timeout = options.lock_timeout;
    if (options.throttle != nullptr) {
      request.message = options.throttle->PacingSummary();
    }
    const absl::Time chunk_start = clock->Now();
    absl::StatusOr<ChunkResult> result = db_->RunChunk(request);
    const absl::Time chunk_end = clock->Now();

    if (!result.ok()) {
      const absl::Status& error = result.status();
      if (absl::IsAborted(error) && ++attempt < options.max_attempts) {
        // Deadlock or lock timeout: the chunk rolled back. Smaller, later.
        ++report.retries;
        sizer.Shrink();
        absl::Duration wait = backoff.Next();
        observer->OnRetry(error, attempt, wait);
        clock->SleepFor(wait);
        continue;
      }
      if (absl::IsUnavailable(error)) {
        // Connection lost. The chunk may or may not have committed (the
        // acknowledgement can be what was lost): reconnect, then trust the
        // checkpoint row, which commits atomically with the chunk.
        if (!unavailable_since.has_value()) unavailable_since = chunk_end;
        if (clock->Now() - *unavailable_since < options.retry_for) {
          ++report.retries;
          ++attempt;
          absl::Duration wait = backoff.Next();
          observer->OnRetry(error, attempt, wait);
          clock->SleepFor(wait);
          absl::Status s = db_->Reconnect();
          // The server may be a new primary: its tables and lease, too.
          if (s.ok()) s = db_->EnsureCheckpointTable();
          if (s.ok()) s = lease.Take();
          if (s.ok()) {
            absl::StatusOr<std::optional<Checkpoint>> again =
                db_->LoadCheckpoint(spec_.job);
            if (!again.ok()) {
              s = again.status();
            } else if (!again->has_value()) {
              // A new primary that never got the checkpoint row has none of
              // this run's chunks either: walk again from the start.
              Checkpoint fresh = cp;
              fresh.last_key.reset();
              fresh.rows_walked = fresh.rows_written = fresh.chunks = 0;
              std::string warning = AdoptReloaded(fresh, &cp, &report);
              if (!warning.empty()) observer->OnWarning(warning);
              s = db_->SaveCheckpoint(cp);
            } else {
              std::string warning = AdoptReloaded(**again, &cp, &report);
              if (!warning.empty()) observer->OnWarning(warning);
              if (cp.state == JobState::kDone) {
                return finish(RunOutcome::kDone, "done", cp);
              }
              cp.state = JobState::kRunning;
            }
          }
          if (!s.ok() && !absl::IsUnavailable(s)) return s;
          continue;
        }
      }
      // Not retryable, or out of retries: leave the checkpoint as committed
      // and record why (best effort: the connection may be gone).
      cp.state = JobState::kFailed;
      cp.message = std::string(error.message());
      cp.updated_at = clock->Now();
      (void)db_->SaveCheckpoint(cp);
      return error;
    }

    attempt = 0;
    unavailable_since.reset();
    backoff.Reset();
    ApplyChunk(request, *result, &cp, chunk_end);
    report.rows_walked += result->rows_walked;
    report.rows_written += result->rows_written;
    report.chunks += 1;
    sizer.Observe(result->rows_walked, chunk_end - chunk_start);
    if (options.throttle != nullptr)
      options.throttle->RecordChunk(result->rows_walked);

    Progress progress;
    progress.checkpoint = &cp;
    progress.next_chunk_rows = next_rows();
    progress.last_chunk_time = chunk_end - chunk_start;
    const double seconds = absl::ToDoubleSeconds(chunk_end - start);
    if (seconds > 0) progress.rows_per_second = report.rows_walked / seconds;
    if (progress.rows_per_second > 0 && cp.rows_estimate > cp.rows_walked) {
      progress.eta = absl::Seconds((cp.rows_estimate - cp.rows_walked) /
                                   progress.rows_per_second);
    } else if (cp.state == JobState::kDone) {
      progress.eta = absl::ZeroDuration();
    }
    observer->OnChunk(progress);

    if (result->last) return finish(RunOutcome::kDone, "done", cp);
    if (result->pause_requested) {
      cp.pause_requested = true;
      return stop(JobState::kPaused, RunOutcome::kPaused, "paused by operator");
    }
  }
}

}  // namespace backfill
