#ifndef BACKFILL_THROTTLE_CHUNK_SIZER_H_
#define BACKFILL_THROTTLE_CHUNK_SIZER_H_

#include <cstdint>

#include "absl/time/time.h"

namespace backfill {

// Bounds and target for chunk-size adaptation.
struct ChunkSizerOptions {
  // Size of the first chunk. Default 1000 rows.
  int64_t initial_rows = 1000;
  // Wall time one chunk should take. Default 500ms. Zero disables adaptation:
  // every chunk has `initial_rows` rows.
  absl::Duration target_chunk_time = absl::Milliseconds(500);
  // Hard bounds on the chunk size, whatever the timings say.
  int64_t min_rows = 10;
  int64_t max_rows = 1000000;
  // Weight of the newest observation in the moving average of the per-row
  // cost, in (0, 1]. Higher reacts faster and is noisier.
  double ema_weight = 0.5;
  // A chunk may grow by at most this factor per step.
  double max_growth = 1.5;
  // A chunk that took more than this multiple of the target is treated as an
  // overshoot: the next chunk is cut straight to the size that the last
  // chunk's own per-row cost says fits the target, ignoring the average.
  double overshoot_factor = 2.0;
};

// Chooses the number of rows of the next chunk so that a chunk takes about
// `target_chunk_time`: an exponential moving average of the per-row cost of
// recent chunks, growth capped at `max_growth` per step, a hard cut on a chunk
// far over target, and clamping to [min_rows, max_rows].
//
// Pure logic: no clock, no I/O. Not thread-safe; one per copier loop.
class ChunkSizer {
 public:
  explicit ChunkSizer(const ChunkSizerOptions& options);

  // Rows for the next chunk.
  int64_t next_rows() const { return next_rows_; }

  // Reports a finished chunk: it walked `rows` rows in `elapsed`.
  void Observe(int64_t rows, absl::Duration elapsed);

  // Reports a chunk that failed on a lock or deadlock: the next attempt is
  // half the size (never below min_rows).
  void Shrink();

 private:
  int64_t Clamp(double rows) const;

  const ChunkSizerOptions options_;
  int64_t next_rows_;
  double seconds_per_row_ = 0;  // EMA; 0 until the first observation
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_CHUNK_SIZER_H_
