#include "tests/engine/fake_database.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

absl::StatusOr<int64_t> KeyValue(const Key& key) {
  int64_t v = 0;
  if (key.size() != 1 || !absl::SimpleAtoi(key[0], &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fake: bad key ", EncodeKey(key)));
  }
  return v;
}

}  // namespace

Key IntKey(int64_t k) { return Key{absl::StrCat(k)}; }

void FakeBackend::AddRows(const std::vector<int64_t>& keys) {
  for (int64_t k : keys) rows[k].value = k * 10;
}

void FakeBackend::AddRange(int64_t first, int64_t n, int64_t step) {
  for (int64_t i = 0; i < n; ++i)
    rows[first + i * step].value = (first + i * step) * 10;
}

void FakeBackend::RequestPause(const std::string& job, bool pause) {
  checkpoints.at(job).pause_requested = pause;
}

absl::StatusOr<JobPlan> FakeDatabase::Prepare(const JobSpec& spec) {
  ++b_->prepare_calls;
  if (!b_->prepare_error.ok()) return b_->prepare_error;
  JobPlan plan;
  plan.key_columns = {"id"};
  plan.rows_estimate = static_cast<int64_t>(b_->rows.size());
  plan.chunk_sql = {"UPDATE fake"};
  return plan;
}

absl::StatusOr<std::optional<Key>> FakeDatabase::HighWaterMark() {
  if (!b_->high_water_error.ok()) return b_->high_water_error;
  if (b_->rows.empty()) return std::optional<Key>();
  return std::optional<Key>(IntKey(b_->rows.rbegin()->first));
}

absl::StatusOr<ChunkResult> FakeDatabase::RunChunk(
    const ChunkRequest& request) {
  ++b_->run_chunk_calls;
  b_->requests.push_back(request);
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  if (!b_->locked) {
    return absl::FailedPreconditionError(
        "fake: job lease not taken on this connection");
  }
  if (b_->lease_holder != b_->claimed) {
    return absl::FailedPreconditionError("fake: the lease was taken over");
  }
  if (request.rows < 1) {
    return absl::InvalidArgumentError("fake: chunk of fewer than one row");
  }
  if (b_->fail_run_chunk > 0) {
    --b_->fail_run_chunk;
    if (absl::IsUnavailable(b_->run_chunk_error)) {
      b_->connected = false;
      b_->locked = false;
    }
    return b_->run_chunk_error;
  }
  absl::StatusOr<ChunkResult> result = Commit(request);
  if (result.ok() && b_->lose_ack > 0) {
    --b_->lose_ack;
    b_->connected = false;
    b_->locked = false;
    return absl::UnavailableError(
        "fake: server closed the connection unexpectedly");
  }
  return result;
}

absl::StatusOr<ChunkResult> FakeDatabase::Commit(const ChunkRequest& request) {
  auto cp = b_->checkpoints.find(request.job);
  if (cp == b_->checkpoints.end()) {
    return absl::InternalError(
        "fake: chunk for a job without a checkpoint row");
  }
  absl::StatusOr<int64_t> high = KeyValue(request.high_water);
  if (!high.ok()) return high.status();
  auto it = b_->rows.begin();
  if (request.after.has_value()) {
    absl::StatusOr<int64_t> after = KeyValue(*request.after);
    if (!after.ok()) return after.status();
    it = b_->rows.upper_bound(*after);
  }
  ChunkResult result;
  int64_t upper = *high;
  for (; it != b_->rows.end() && it->first <= *high &&
         result.rows_walked < request.rows;
       ++it) {
    FakeBackend::Row& row = it->second;
    ++row.walks;
    ++result.rows_walked;
    upper = it->first;
    if (row.copied != row.value) {  // the IS DISTINCT FROM guard
      row.copied = row.value;
      ++row.writes;
      ++result.rows_written;
    }
  }
  result.upper = IntKey(upper);
  result.last = upper >= *high;
  result.pause_requested = cp->second.pause_requested;

  Checkpoint& c = cp->second;
  c.last_key = result.upper;
  c.rows_walked += result.rows_walked;
  c.rows_written += result.rows_written;
  c.chunks += 1;
  c.message = request.message;
  if (result.last) c.state = JobState::kDone;
  if (b_->clock != nullptr) {
    b_->clock->Advance(b_->chunk_fixed_cost +
                       b_->per_row_cost * result.rows_walked);
    c.updated_at = b_->clock->Now();
  }
  ++b_->committed_chunks;
  if (b_->after_commit) b_->after_commit(b_->committed_chunks);
  return result;
}

absl::StatusOr<std::optional<LeaseHolder>> FakeDatabase::TakeLease(
    const LeaseClaim& claim) {
  ++b_->lock_calls;
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  if (!b_->lease_holder.empty() && b_->lease_holder != claim.holder &&
      !b_->lease_expired && b_->lease_holder != claim.dead_holder) {
    return std::optional<LeaseHolder>(
        LeaseHolder{b_->lease_holder, absl::Seconds(20)});
  }
  b_->lease_holder = b_->claimed = claim.holder;
  b_->lease_expired = false;
  b_->locked = true;
  return std::optional<LeaseHolder>();
}

absl::Status FakeDatabase::RenewLease() {
  ++b_->renew_calls;
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  if (b_->lease_holder != b_->claimed) {
    return absl::FailedPreconditionError("fake: the lease was taken over");
  }
  return absl::OkStatus();
}

absl::Status FakeDatabase::ReleaseLease() {
  ++b_->release_calls;
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  if (b_->lease_holder == b_->claimed) b_->lease_holder.clear();
  b_->locked = false;
  return absl::OkStatus();
}

absl::Status FakeDatabase::EnsureCheckpointTable() {
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Checkpoint>> FakeDatabase::LoadCheckpoint(
    const std::string& job) {
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  auto it = b_->checkpoints.find(job);
  if (it == b_->checkpoints.end()) return std::optional<Checkpoint>();
  return std::optional<Checkpoint>(it->second);
}

absl::StatusOr<std::vector<Checkpoint>> FakeDatabase::ListCheckpoints() {
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  std::vector<Checkpoint> out;
  for (const auto& [name, cp] : b_->checkpoints) out.push_back(cp);
  return out;
}

absl::Status FakeDatabase::SaveCheckpoint(const Checkpoint& checkpoint) {
  ++b_->save_calls;
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  if (b_->locked && b_->lease_holder != b_->claimed) {
    return absl::FailedPreconditionError("fake: the lease was taken over");
  }
  auto it = b_->checkpoints.find(checkpoint.job);
  const bool pause = it != b_->checkpoints.end() && it->second.pause_requested;
  Checkpoint& stored = b_->checkpoints[checkpoint.job];
  stored = checkpoint;
  stored.pause_requested = pause;  // the flag is left as it is in the table
  return absl::OkStatus();
}

absl::Status FakeDatabase::SetPauseRequested(const std::string& job,
                                             bool paused) {
  if (!b_->connected)
    return absl::UnavailableError("fake: connection is closed");
  auto it = b_->checkpoints.find(job);
  if (it == b_->checkpoints.end()) {
    return absl::NotFoundError(absl::StrCat("no job named \"", job, "\""));
  }
  it->second.pause_requested = paused;
  return absl::OkStatus();
}

absl::Status FakeDatabase::Reconnect() {
  ++b_->reconnect_calls;
  b_->connected = false;
  b_->locked = false;
  if (b_->fail_reconnect > 0) {
    --b_->fail_reconnect;
    return b_->reconnect_error;
  }
  b_->connected = true;
  if (b_->on_reconnect) b_->on_reconnect();
  return absl::OkStatus();
}

}  // namespace backfill
