#include "backfill/engine/job_run.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

JobRun::JobRun(Database* db, const JobSpec& spec, const JobPlan& plan,
               const RunOptions& options)
    : db_(db),
      spec_(spec),
      plan_(plan),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      observer_(options.observer != nullptr ? options.observer
                                            : &null_observer_),
      start_(clock_->Now()),
      lease_(db, spec.job, clock_),
      sizer_(options.chunking),
      backoff_(clock_) {}

absl::StatusOr<RunReport> JobRun::Execute() {
  if (Ending end = Open()) return *std::move(end);
  while (true) {
    if (Ending end = StopBeforeChunk()) return *std::move(end);
    const int64_t rows = NextRows();
    if (options_.throttle != nullptr) {
      bool again = false;
      if (Ending end = WaitForPacing(rows, &again)) return *std::move(end);
      if (again) continue;
    }
    ChunkRequest request{spec_.job, cp_.last_key, *cp_.high_water, rows};
    request.lock_timeout = options_.lock_timeout;
    if (options_.throttle != nullptr) {
      request.message = options_.throttle->PacingSummary();
    }
    const absl::Time chunk_start = clock_->Now();
    absl::StatusOr<ChunkResult> result = db_->RunChunk(request);
    const absl::Time chunk_end = clock_->Now();
    if (!result.ok()) {
      if (Ending end = Recover(result.status(), chunk_end)) {
        return *std::move(end);
      }
      continue;
    }
    if (Ending end = Committed(request, *result, chunk_start, chunk_end)) {
      return *std::move(end);
    }
  }
}

JobRun::Ending JobRun::Open() {
  if (absl::Status s = db_->EnsureCheckpointTable(); !s.ok()) return s;
  if (absl::Status s = lease_.Take(); !s.ok()) return s;
  absl::StatusOr<std::optional<Checkpoint>> loaded =
      db_->LoadCheckpoint(spec_.job);
  if (!loaded.ok()) return loaded.status();
  std::optional<Checkpoint> existing = *std::move(loaded);
  if (existing.has_value() && !options_.restart &&
      existing->fingerprint != FingerprintJobSpec(spec_)) {
    return SpecChangedError(spec_.job, existing->spec);
  }
  if (existing.has_value() && existing->pause_requested) {
    cp_ = *std::move(existing);
    return Finish(
        RunOutcome::kPaused,
        absl::StrCat("paused by operator; run `backfill resume --job ",
                     spec_.job, "` to let it continue"));
  }
  if (!existing.has_value() || options_.restart) {
    if (absl::Status s = StartCheckpoint(); !s.ok()) return s;
  } else {
    cp_ = *std::move(existing);
    report_.resumed = true;
    if (cp_.state == JobState::kDone) {
      return Finish(RunOutcome::kDone, "already done");
    }
    cp_.state = JobState::kRunning;
    cp_.message.clear();
    cp_.updated_at = clock_->Now();
  }
  if (options_.throttle != nullptr) {
    cp_.message = options_.throttle->PacingSummary();
  }
  if (absl::Status s = db_->SaveCheckpoint(cp_); !s.ok()) return s;
  observer_->OnStart(cp_, plan_, report_.resumed);
  if (cp_.state == JobState::kDone) {
    return Finish(RunOutcome::kDone, "the table is empty");
  }
  pause_checked_ = clock_->Now();
  return std::nullopt;
}

absl::Status JobRun::StartCheckpoint() {
  absl::StatusOr<std::optional<Key>> high = db_->HighWaterMark();
  if (!high.ok()) return high.status();
  cp_ = Checkpoint();
  cp_.job = spec_.job;
  cp_.fingerprint = FingerprintJobSpec(spec_);
  cp_.spec = DescribeJobSpec(spec_);
  cp_.high_water = *std::move(high);
  cp_.rows_estimate = plan_.rows_estimate;
  cp_.state = cp_.high_water.has_value() ? JobState::kRunning : JobState::kDone;
  cp_.started_at = cp_.updated_at = clock_->Now();
  return absl::OkStatus();
}

JobRun::Ending JobRun::StopBeforeChunk() {
  if (!lease_lost_.ok()) return lease_lost_;
  if (cancelled()) {
    return Stop(JobState::kStopped, RunOutcome::kStopped, "stopped by signal");
  }
  if (pause_seen_) {
    cp_.pause_requested = true;
    return Stop(JobState::kPaused, RunOutcome::kPaused, "paused by operator");
  }
  if (options_.max_chunks > 0 && report_.chunks >= options_.max_chunks) {
    return Stop(JobState::kStopped, RunOutcome::kSliceEnd,
                absl::StrCat("slice ended after ", report_.chunks, " chunks"));
  }
  // A slice makes progress: its first chunk runs however long opening took
  // (a busy server can take a slice's whole budget to lock the job and save
  // the checkpoint), unless pacing held writes through it.
  if (clock_->Now() - start_ >= options_.max_duration &&
      (report_.chunks > 0 || report_.throttled > absl::ZeroDuration())) {
    return Stop(JobState::kStopped, RunOutcome::kSliceEnd,
                absl::StrCat("slice ended after ",
                             absl::FormatDuration(options_.max_duration)));
  }
  return std::nullopt;
}

JobRun::Ending JobRun::WaitForPacing(int64_t rows, bool* again) {
  const absl::Time wait_began = clock_->Now();
  held_ = false;
  const WaitResult wait = options_.throttle->WaitUntilAllowed(
      rows, [&] { return ShouldStopWaiting(wait_began); },
      [this](const Decision& d) { OnThrottleWait(d); });
  report_.throttled += wait.waited;
  if (wait.outcome == WaitResult::Outcome::kCritical) {
    return Stop(JobState::kStopped, RunOutcome::kCritical, wait.reason);
  }
  if (held_) {
    cp_.message.clear();
    if (wait.outcome == WaitResult::Outcome::kProceed) {
      observer_->OnThrottle(Decision{});
    }
  }
  if (wait.outcome == WaitResult::Outcome::kStopped) {
    *again = true;
    return std::nullopt;
  }
  WarnOfIgnoredReplicas();
  return std::nullopt;
}

bool JobRun::ShouldStopWaiting(absl::Time wait_began) {
  if (cancelled()) return true;
  const absl::Time now = clock_->Now();
  // Past the slice's end: stop if it made progress or this wait has held
  // writes (the loop top then ends the slice).
  if (now - start_ >= options_.max_duration &&
      (report_.chunks > 0 || now > wait_began)) {
    return true;
  }
  if (absl::Status r = lease_.RenewIfDue(); absl::IsFailedPrecondition(r)) {
    lease_lost_ = r;
    return true;
  }
  if (now - pause_checked_ >= absl::Seconds(1)) {
    pause_checked_ = now;
    absl::StatusOr<std::optional<Checkpoint>> flag =
        db_->LoadCheckpoint(spec_.job);
    // An error here is left to the next chunk to find.
    if (flag.ok() && flag->has_value() && (*flag)->pause_requested) {
      pause_seen_ = true;
    }
  }
  return pause_seen_;
}

void JobRun::OnThrottleWait(const Decision& decision) {
  held_ = true;
  observer_->OnThrottle(decision);
  // Best effort: `status` shows why the job is not advancing. The next
  // chunk's checkpoint update clears the message.
  cp_.message = absl::StrCat("throttled: ", decision.reason);
  cp_.updated_at = clock_->Now();
  (void)db_->SaveCheckpoint(cp_);
}

void JobRun::WarnOfIgnoredReplicas() {
  const Decision decision = options_.throttle->Check();
  std::vector<std::string> names, reasons;
  for (const auto& [name, reason] : decision.ignored) {
    names.push_back(name);
    reasons.push_back(reason);
  }
  const absl::Time now = clock_->Now();
  if (names == ignored_ &&
      (names.empty() || now - ignored_reported_ < absl::Seconds(30))) {
    return;
  }
  if (!names.empty()) {
    observer_->OnWarning(
        absl::StrCat("writing although ", names.size(),
                     names.size() == 1 ? " replica is" : " replicas are",
                     " unreachable (`ignore_unreachable_replicas`): ",
                     absl::StrJoin(reasons, "; ")));
  } else {
    observer_->OnWarning(absl::StrCat("replicas reachable again: ",
                                      absl::StrJoin(ignored_, ", ")));
  }
  ignored_ = std::move(names);
  ignored_reported_ = now;
}

JobRun::Ending JobRun::Recover(const absl::Status& error,
                               absl::Time failed_at) {
  if (absl::IsAborted(error) && ++attempt_ < options_.max_attempts) {
    // Deadlock or lock timeout: the chunk rolled back. Smaller, later.
    ++report_.retries;
    sizer_.Shrink();
    const absl::Duration wait = backoff_.Next();
    observer_->OnRetry(error, attempt_, wait);
    clock_->SleepFor(wait);
    return std::nullopt;
  }
  if (absl::IsUnavailable(error)) {
    // Connection lost. The chunk may or may not have committed (the
    // acknowledgement can be what was lost): reconnect, then trust the
    // checkpoint row, which commits atomically with the chunk.
    if (!unavailable_since_.has_value()) unavailable_since_ = failed_at;
    if (clock_->Now() - *unavailable_since_ < options_.retry_for) {
      ++report_.retries;
      ++attempt_;
      const absl::Duration wait = backoff_.Next();
      observer_->OnRetry(error, attempt_, wait);
      clock_->SleepFor(wait);
      const absl::Status s = Reconnect();
      if (s.ok() && cp_.state == JobState::kDone) {
        return Finish(RunOutcome::kDone, "done");
      }
      if (!s.ok() && !absl::IsUnavailable(s)) return s;
      return std::nullopt;
    }
  }
  // Not retryable, or out of retries: leave the checkpoint as committed and
  // record why (best effort: the connection may be gone).
  cp_.state = JobState::kFailed;
  cp_.message = std::string(error.message());
  cp_.updated_at = clock_->Now();
  (void)db_->SaveCheckpoint(cp_);
  return error;
}

absl::Status JobRun::Reconnect() {
  // The server may be a new primary: its tables and lease, too.
  if (absl::Status s = db_->Reconnect(); !s.ok()) return s;
  if (absl::Status s = db_->EnsureCheckpointTable(); !s.ok()) return s;
  if (absl::Status s = lease_.Take(); !s.ok()) return s;
  absl::StatusOr<std::optional<Checkpoint>> again =
      db_->LoadCheckpoint(spec_.job);
  if (!again.ok()) return again.status();
  if (!again->has_value()) {
    // A new primary that never got the checkpoint row has none of this
    // run's chunks either: walk again from the start.
    Checkpoint fresh = cp_;
    fresh.last_key.reset();
    fresh.rows_walked = fresh.rows_written = fresh.chunks = 0;
    const std::string warning = AdoptReloaded(fresh, &cp_, &report_);
    if (!warning.empty()) observer_->OnWarning(warning);
    return db_->SaveCheckpoint(cp_);
  }
  const std::string warning = AdoptReloaded(**again, &cp_, &report_);
  if (!warning.empty()) observer_->OnWarning(warning);
  if (cp_.state != JobState::kDone) cp_.state = JobState::kRunning;
  return absl::OkStatus();
}

JobRun::Ending JobRun::Committed(const ChunkRequest& request,
                                 const ChunkResult& result,
                                 absl::Time chunk_start, absl::Time chunk_end) {
  attempt_ = 0;
  unavailable_since_.reset();
  backoff_.Reset();
  ApplyChunk(request, result, &cp_, chunk_end);
  report_.rows_walked += result.rows_walked;
  report_.rows_written += result.rows_written;
  report_.chunks += 1;
  sizer_.Observe(result.rows_walked, chunk_end - chunk_start);
  if (options_.throttle != nullptr) {
    options_.throttle->RecordChunk(result.rows_walked);
  }

  Progress progress;
  progress.checkpoint = &cp_;
  progress.next_chunk_rows = NextRows();
  progress.last_chunk_time = chunk_end - chunk_start;
  const double seconds = absl::ToDoubleSeconds(chunk_end - start_);
  if (seconds > 0) progress.rows_per_second = report_.rows_walked / seconds;
  if (progress.rows_per_second > 0 && cp_.rows_estimate > cp_.rows_walked) {
    progress.eta = absl::Seconds((cp_.rows_estimate - cp_.rows_walked) /
                                 progress.rows_per_second);
  } else if (cp_.state == JobState::kDone) {
    progress.eta = absl::ZeroDuration();
  }
  observer_->OnChunk(progress);

  if (result.last) return Finish(RunOutcome::kDone, "done");
  if (result.pause_requested) {
    cp_.pause_requested = true;
    return Stop(JobState::kPaused, RunOutcome::kPaused, "paused by operator");
  }
  return std::nullopt;
}

int64_t JobRun::NextRows() const {
  const int64_t cap =
      options_.throttle != nullptr ? options_.throttle->ChunkRowsCap() : 0;
  return cap > 0 ? std::min(sizer_.next_rows(), cap) : sizer_.next_rows();
}

absl::StatusOr<RunReport> JobRun::Finish(RunOutcome outcome,
                                         std::string reason) {
  report_.outcome = outcome;
  report_.reason = std::move(reason);
  report_.elapsed = clock_->Now() - start_;
  report_.checkpoint = cp_;
  observer_->OnFinish(report_);
  return report_;
}

absl::StatusOr<RunReport> JobRun::Stop(JobState state, RunOutcome outcome,
                                       std::string reason) {
  cp_.state = state;
  cp_.message = reason;
  cp_.updated_at = clock_->Now();
  if (absl::Status s = db_->SaveCheckpoint(cp_); !s.ok()) return s;
  return Finish(outcome, std::move(reason));
}

bool JobRun::cancelled() const {
  return options_.cancel != nullptr && options_.cancel->cancelled();
}

}  // namespace backfill
