#ifndef BACKFILL_ENGINE_VERIFY_H_
#define BACKFILL_ENGINE_VERIFY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/database.h"
#include "backfill/engine/job.h"
#include "backfill/engine/job_spec.h"

namespace backfill {

struct VerifyOptions {
  // Chunk sizing, as for a run (keyset chunks over the walked key).
  ChunkSizerOptions chunking;
  // How many mismatched keys to list.
  int show = 10;
  // Optional; not owned.
  const CancellationToken* cancel = nullptr;
  Clock* clock = nullptr;  // default Clock::Real()
};

struct VerifyReport {
  int64_t rows_walked = 0;
  int64_t mismatched = 0;   // rows where new != f(old), missing rows included
  int64_t missing = 0;      // copy shape: source rows absent from the target
  std::vector<Key> sample;  // up to `show` mismatched walked keys, in key order
  int64_t chunks = 0;
  bool complete = true;  // false when cancelled before the end
  absl::Duration elapsed;
};

// Walks the key range of `spec` as a run would (up to the walked table's
// current largest key), read-only, and counts the rows whose new
// representation differs from what the spec computes from the old one.
// Writes nothing: no row, no checkpoint. Fails like Job::Open on bad input,
// and with the adapter's status on database errors (a lost connection is
// retried once after reconnecting).
absl::StatusOr<VerifyReport> VerifyJob(Database& db, const JobSpec& spec,
                                       const VerifyOptions& options);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_VERIFY_H_
