#ifndef BACKFILL_ENGINE_DATABASE_H_
#define BACKFILL_ENGINE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/checkpoint.h"
#include "backfill/engine/job_spec.h"
#include "backfill/engine/key.h"

namespace backfill {

// What an adapter learned when it prepared a job: shown by --dry-run and used
// for progress.
struct JobPlan {
  std::vector<std::string> key_columns;  // walked key, in order
  int64_t rows_estimate = 0;             // planner's estimate of walked rows
  // The statements of one chunk as the adapter will run them, with
  // placeholders for the bounds, in execution order.
  std::vector<std::string> chunk_sql;
  // What the operator should know about how the chunks will run (printed as
  // notes by the CLI), e.g. that no index serves a join's source lookups.
  std::vector<std::string> notes;
};

// One chunk to write: the rows of the walked table with a key in
// (after, upper], where `upper` is the key `rows` rows past `after`, or the
// high-water mark if that comes first.
struct ChunkRequest {
  std::string job;           // checkpoint row to advance
  std::optional<Key> after;  // exclusive lower bound; nullopt = from the start
  Key high_water;            // inclusive upper bound of the whole walk
  int64_t rows = 1000;       // rows of the walked table in this chunk
  // Longest the chunk's transaction waits for any one lock (PostgreSQL
  // lock_timeout, set LOCAL to the chunk's transaction; MySQL
  // innodb_lock_wait_timeout, whole seconds, at least 1). A wait past it
  // fails the chunk with kAborted, which the engine retries with a smaller
  // chunk, so the backfill never queues the application behind it for long.
  // Zero or less: the adapter's session default.
  absl::Duration lock_timeout = absl::Seconds(2);
  // The checkpoint's message, written with the chunk: what `backfill status`
  // shows for a running job (the pacing in force). Empty clears it.
  std::string message;
};

struct ChunkResult {
  Key upper;                     // inclusive upper bound actually used
  int64_t rows_walked = 0;       // walked-table rows in (after, upper]
  int64_t rows_written = 0;      // rows inserted or changed
  bool last = false;             // upper == high-water: the walk is complete
  bool pause_requested = false;  // the checkpoint's pause flag, read in-txn
};

// One chunk of a verification: rows in (after, upper] checked read-only.
struct VerifyResult {
  Key upper;                // inclusive upper bound actually used
  int64_t rows_walked = 0;  // walked-table rows in the range
  int64_t mismatched = 0;   // rows where the new representation != f(old)
  int64_t missing = 0;      // copy shape: source rows with no target row
                            // (also counted in `mismatched`)
  std::vector<Key> sample;  // walked keys of up to `show` mismatched rows
  bool last = false;        // upper == high-water
};

// The holder of a job's lease, as Database::TakeLease found it.
struct LeaseHolder {
  std::string holder;  // LeaseClaim::holder of the run that holds it
  // Until it expires, by the database server's clock; zero or less: expired.
  absl::Duration remaining;
};

// A run's claim on its job (see Database::TakeLease).
struct LeaseClaim {
  std::string job;
  std::string
      holder;  // who claims it: unique per run (backfill/engine/job_lease.h)
  // Each take and each renewal holds the lease this long from the server's
  // "now".
  absl::Duration ttl = absl::Seconds(30);
  // A holder the caller proved dead (its process is gone): its lease is
  // taken over before it expires. Empty: none.
  std::string dead_holder;
};

// A connection to the target database, speaking its dialect. The engine owns
// the copier loop and all policy; an adapter renders and runs SQL, quoting
// every identifier itself (user identifiers never reach SQL unquoted).
//
// Errors carry the retry policy in their code:
//   kAborted            deadlock, serialization failure, lock wait timeout:
//                       the transaction rolled back; retry the chunk.
//   kUnavailable        connection lost, server going away, or the primary
//                       turned read-only (it moved: a failover): reconnect
//                       (Reconnect) and retry from the checkpoint.
//   kInvalidArgument,   bad input (syntax, types, identifiers): stop.
//   kNotFound,
//   kFailedPrecondition,
//   kPermissionDenied,
//   kUnauthenticated
//   kResourceExhausted  the server's disk (or the table's storage) is full:
//                       stop, checkpoint intact; resume once space is freed.
//   others              runtime failure: stop, checkpoint intact.
// Messages are one line and never contain a password.
//
// Not thread-safe: one connection, used by one thread.
class Database {
 public:
  virtual ~Database() = default;

  // Resolves `spec` against the schema (tables, columns, key, privileges)
  // and prepares the chunk statements, which type-checks every expression.
  // Writes nothing. Must succeed before HighWaterMark or RunChunk.
  virtual absl::StatusOr<JobPlan> Prepare(const JobSpec& spec) = 0;

  // Largest key of the walked table, or nullopt if it has no rows.
  virtual absl::StatusOr<std::optional<Key>> HighWaterMark() = 0;

  // In one transaction: finds the chunk's upper bound, share-locks the
  // source rows where the shape needs it, writes the chunk with its guarded
  // statement, and advances the checkpoint row of `request.job` (last_key,
  // counters, state = done when last). On any error nothing of the chunk
  // is committed.
  virtual absl::StatusOr<ChunkResult> RunChunk(const ChunkRequest& request) = 0;

  // Read-only twin of RunChunk for `backfill verify`: counts the rows of the
  // chunk whose new representation differs from what the spec computes from
  // the old one (the negation of the write guard), lists up to `show` of
  // their keys, and writes nothing (no checkpoint either). `request.job` is
  // ignored.
  virtual absl::StatusOr<VerifyResult> VerifyChunk(const ChunkRequest& request,
                                                   int show) {
    return absl::UnimplementedError(
        "verify is not supported on this database yet");
  }

  // The job lease, so that two processes never run the same job at once: a
  // row per job in the table `backfill_leases` (holder, expiry by the
  // server's clock) beside the checkpoint table, not a session lock, so it
  // works through transaction poolers and survives a reconnect or failover.
  //
  // Takes the lease of claim.job for claim.holder when nobody holds it, it
  // expired, claim.holder already holds it, or claim.dead_holder does.
  // Returns nullopt when taken; otherwise changes nothing and returns who
  // holds it. Waits a few seconds at most for a chunk of the holder that is
  // still committing. From then on every RunChunk and SaveCheckpoint renews
  // the lease in its own transaction first, and fails with
  // kFailedPrecondition, committing nothing, when another holder has it.
  // Needs EnsureCheckpointTable first.
  virtual absl::StatusOr<std::optional<LeaseHolder>> TakeLease(
      const LeaseClaim& claim) = 0;

  // Renews the lease TakeLease took (between chunks, while writes are
  // held). kFailedPrecondition when another holder has it.
  virtual absl::Status RenewLease() = 0;

  // Gives the lease up so that another run may start at once. Best effort;
  // RunChunk and SaveCheckpoint are not fenced any more afterwards.
  virtual absl::Status ReleaseLease() = 0;

  // Creates the checkpoint table and the lease table if they do not exist.
  virtual absl::Status EnsureCheckpointTable() = 0;

  // The checkpoint of `job`, or nullopt when there is none (or no table).
  virtual absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(
      const std::string& job) = 0;

  // Every checkpoint, ordered by job name; empty when there is no table.
  virtual absl::StatusOr<std::vector<Checkpoint>> ListCheckpoints() = 0;

  // Inserts or replaces the whole checkpoint row (start, restart, stop).
  // The row's pause flag is left as it is in the table.
  virtual absl::Status SaveCheckpoint(const Checkpoint& checkpoint) = 0;

  // Sets or clears the pause flag. kNotFound when the job has no checkpoint.
  virtual absl::Status SetPauseRequested(const std::string& job,
                                         bool paused) = 0;

  // Drops the connection and opens a new one with the same settings (with
  // several hosts, libpq picks the one that fits target_session_attrs: after
  // a failover, the new primary). The lease must be taken again
  // (TakeLease): the server may be another one.
  virtual absl::Status Reconnect() = 0;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_DATABASE_H_
