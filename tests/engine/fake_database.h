#ifndef BACKFILL_TESTS_ENGINE_FAKE_DATABASE_H_
#define BACKFILL_TESTS_ENGINE_FAKE_DATABASE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/database.h"
#include "tests/fake_clock.h"

namespace backfill {

// The state behind FakeDatabase: an in-memory table sorted by an integer key,
// the checkpoint table, and fault flags a test flips between (or during)
// runs. It outlives the FakeDatabase connections handed to Job::Open, so a
// test can inspect it after the Job is gone and open a second Job on it.
struct FakeBackend {
  struct Row {
    int64_t value = 0;              // the "old" representation
    std::optional<int64_t> copied;  // the "new" one, written by chunks
    int walks = 0;                  // committed chunks that covered the row
    int writes = 0;                 // committed chunks that changed the row
  };

  // --- data -----------------------------------------------------------
  std::map<int64_t, Row> rows;
  std::map<std::string, Checkpoint> checkpoints;

  // Adds rows with the given keys; each value is key * 10.
  void AddRows(const std::vector<int64_t>& keys);
  // Adds keys first, first + step, ... (n of them).
  void AddRange(int64_t first, int64_t n, int64_t step = 1);

  // --- faults ---------------------------------------------------------
  // The next `fail_run_chunk` RunChunk calls fail with `run_chunk_error`
  // before doing anything.
  int fail_run_chunk = 0;
  absl::Status run_chunk_error = absl::AbortedError("deadlock detected");
  // The next `lose_ack` RunChunk calls commit their chunk and then fail with
  // kUnavailable, as when the connection drops before the COMMIT reply. Set
  // from after_commit(n), it makes chunk n itself lose its acknowledgement.
  int lose_ack = 0;
  // The next `fail_reconnect` Reconnect calls fail with `reconnect_error`.
  int fail_reconnect = 0;
  absl::Status reconnect_error = absl::UnavailableError("connection refused");
  // Errors returned by Prepare / HighWaterMark when not OK.
  absl::Status prepare_error = absl::OkStatus();
  absl::Status high_water_error = absl::OkStatus();
  // The job lease row (one job): its holder ("" = none) and whether it
  // expired. A test sets another holder to play a second process.
  std::string lease_holder;
  bool lease_expired = false;
  // Called by Reconnect once the new connection is up: lets a test play a
  // failover (another server with an older checkpoint, or none).
  std::function<void()> on_reconnect;
  // Called after each committed chunk, with the number of chunks committed
  // so far (all runs). Lets a test cancel or pause mid-run.
  std::function<void(int64_t committed)> after_commit;
  // When set, each RunChunk advances this clock by `chunk_fixed_cost` plus
  // `per_row_cost` per walked row, so chunks take (fake) time.
  FakeClock* clock = nullptr;
  absl::Duration chunk_fixed_cost = absl::ZeroDuration();
  absl::Duration per_row_cost = absl::ZeroDuration();

  // --- observations ---------------------------------------------------
  int prepare_calls = 0;
  int run_chunk_calls = 0;
  int reconnect_calls = 0;
  int lock_calls = 0;   // TakeLease calls
  int renew_calls = 0;  // RenewLease calls
  int release_calls = 0;
  int save_calls = 0;
  int64_t committed_chunks = 0;
  std::vector<ChunkRequest> requests;  // every RunChunk request, in order
  bool connected = true;
  // TakeLease succeeded on this connection (since the last Reconnect).
  bool locked = false;
  std::string claimed;  // the holder of the claim taken

  // Sets the pause flag of a job's checkpoint row directly (another shell).
  void RequestPause(const std::string& job, bool pause = true);
};

// A Database over a FakeBackend. RunChunk behaves like the real adapters: the
// chunk is the next `rows` keys after `after`, capped at the high-water mark;
// rows whose copy differs are written; the checkpoint row advances in the
// same "transaction", fenced by the lease. It insists on the engine's
// protocol: the lease must be taken on this connection (again after a
// Reconnect) and the connection must be up (a chunk after a
// lost connection without Reconnect fails with kUnavailable).
class FakeDatabase : public Database {
 public:
  explicit FakeDatabase(FakeBackend* backend) : b_(backend) {}

  absl::StatusOr<JobPlan> Prepare(const JobSpec& spec) override;
  absl::StatusOr<std::optional<Key>> HighWaterMark() override;
  absl::StatusOr<ChunkResult> RunChunk(const ChunkRequest& request) override;
  absl::StatusOr<std::optional<LeaseHolder>> TakeLease(
      const LeaseClaim& claim) override;
  absl::Status RenewLease() override;
  absl::Status ReleaseLease() override;
  absl::Status EnsureCheckpointTable() override;
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(
      const std::string& job) override;
  absl::StatusOr<std::vector<Checkpoint>> ListCheckpoints() override;
  absl::Status SaveCheckpoint(const Checkpoint& checkpoint) override;
  absl::Status SetPauseRequested(const std::string& job, bool paused) override;
  absl::Status Reconnect() override;

 private:
  absl::StatusOr<ChunkResult> Commit(const ChunkRequest& request);

  FakeBackend* b_;
};

// A one-column integer key, as the fake prints it.
Key IntKey(int64_t k);

}  // namespace backfill

#endif  // BACKFILL_TESTS_ENGINE_FAKE_DATABASE_H_
