#include "backfill/throttle/chunk_sizer.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace backfill {
namespace {

ChunkSizerOptions Options(int64_t initial, absl::Duration target) {
  ChunkSizerOptions o;
  o.initial_rows = initial;
  o.target_chunk_time = target;
  return o;
}

// Per-row cost in microseconds -> duration of a chunk of `rows` rows.
absl::Duration Cost(int64_t rows, int64_t us_per_row) {
  return absl::Microseconds(rows * us_per_row);
}

TEST(ChunkSizerTest, InitialSize) {
  EXPECT_EQ(ChunkSizer(Options(1000, absl::Milliseconds(500))).next_rows(),
            1000);
  EXPECT_EQ(ChunkSizer(ChunkSizerOptions{}).next_rows(), 1000);
}

TEST(ChunkSizerTest, InitialSizeIsClamped) {
  ChunkSizerOptions o = Options(5, absl::Milliseconds(500));
  o.min_rows = 10;
  EXPECT_EQ(ChunkSizer(o).next_rows(), 10);
  o = Options(5000, absl::Milliseconds(500));
  o.max_rows = 2000;
  EXPECT_EQ(ChunkSizer(o).next_rows(), 2000);
}

TEST(ChunkSizerTest, GrowthIsCappedAtOneAndAHalfPerStep) {
  ChunkSizer sizer(Options(100, absl::Milliseconds(500)));
  // Very cheap rows: the ideal size is huge, but each step grows by x1.5.
  int64_t expected = 100;
  for (int i = 0; i < 6; ++i) {
    sizer.Observe(sizer.next_rows(), absl::Milliseconds(1));
    expected = static_cast<int64_t>(expected * 1.5 + 0.5);
    EXPECT_EQ(sizer.next_rows(), expected) << "step " << i;
  }
}

TEST(ChunkSizerTest, ConvergesToTargetForConstantCost) {
  // 50us per row, target 500ms -> 10,000 rows.
  ChunkSizer sizer(Options(100, absl::Milliseconds(500)));
  for (int i = 0; i < 40; ++i) {
    sizer.Observe(sizer.next_rows(), Cost(sizer.next_rows(), 50));
  }
  EXPECT_EQ(sizer.next_rows(), 10000);
  // And stays there.
  sizer.Observe(sizer.next_rows(), Cost(sizer.next_rows(), 50));
  EXPECT_EQ(sizer.next_rows(), 10000);
}

TEST(ChunkSizerTest, ShrinksTowardTargetWhenRowsGetSlower) {
  ChunkSizer sizer(Options(10000, absl::Milliseconds(500)));
  // 75us per row: 750ms for 10,000 rows, over target but not an overshoot.
  for (int i = 0; i < 40; ++i) {
    sizer.Observe(sizer.next_rows(), Cost(sizer.next_rows(), 75));
  }
  EXPECT_NEAR(sizer.next_rows(), 6667, 1);
}

TEST(ChunkSizerTest, HardCutOnOvershoot) {
  ChunkSizer sizer(Options(1000, absl::Milliseconds(500)));
  sizer.Observe(1000, absl::Milliseconds(500));  // 500us per row: on target
  EXPECT_EQ(sizer.next_rows(), 1000);
  // 5s for 1000 rows (10x target): cut straight to what this chunk says fits,
  // ignoring the average.
  sizer.Observe(1000, absl::Seconds(5));
  EXPECT_EQ(sizer.next_rows(), 100);
}

TEST(ChunkSizerTest, OvershootNeverGrows) {
  ChunkSizer sizer(Options(1000, absl::Milliseconds(500)));
  // 5000 rows in 1.1s is an overshoot whose per-row cost would allow 2,273
  // rows; a hard cut never grows the chunk.
  sizer.Observe(5000, absl::Milliseconds(1100));
  EXPECT_EQ(sizer.next_rows(), 1000);
  // A partial chunk of 500 rows in 1.1s: cut to 0.5s / 2.2ms = 227 rows.
  sizer.Observe(500, absl::Milliseconds(1100));
  EXPECT_EQ(sizer.next_rows(), 227);
}

TEST(ChunkSizerTest, JustUnderTwiceTargetIsNotAHardCut) {
  ChunkSizer sizer(Options(1000, absl::Milliseconds(500)));
  sizer.Observe(1000, absl::Milliseconds(500));  // EMA 500us per row
  sizer.Observe(1000, absl::Milliseconds(999));  // EMA -> 749.5us per row
  EXPECT_EQ(sizer.next_rows(), 667);             // 0.5 / 0.0007495
}

TEST(ChunkSizerTest, ShrinkHalves) {
  ChunkSizer sizer(Options(1000, absl::Milliseconds(500)));
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 500);
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 250);
}

TEST(ChunkSizerTest, ShrinkStopsAtMinimum) {
  ChunkSizerOptions o = Options(40, absl::Milliseconds(500));
  o.min_rows = 15;
  ChunkSizer sizer(o);
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 20);
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 15);
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 15);
}

TEST(ChunkSizerTest, ClampedToMinAndMax) {
  ChunkSizerOptions o = Options(1000, absl::Milliseconds(500));
  o.min_rows = 200;
  o.max_rows = 1200;
  ChunkSizer sizer(o);
  sizer.Observe(1000, absl::Seconds(100));  // hard cut would give 5 rows
  EXPECT_EQ(sizer.next_rows(), 200);
  for (int i = 0; i < 20; ++i)
    sizer.Observe(sizer.next_rows(), absl::Microseconds(1));
  EXPECT_EQ(sizer.next_rows(), 1200);
}

TEST(ChunkSizerTest, ZeroTargetIsFixedSize) {
  ChunkSizer sizer(Options(777, absl::ZeroDuration()));
  sizer.Observe(777, absl::Seconds(30));
  EXPECT_EQ(sizer.next_rows(), 777);
  sizer.Observe(777, absl::Microseconds(1));
  EXPECT_EQ(sizer.next_rows(), 777);
}

TEST(ChunkSizerTest, FixedSizeReturnsAfterRetryShrink) {
  ChunkSizer sizer(Options(800, absl::ZeroDuration()));
  sizer.Shrink();
  EXPECT_EQ(sizer.next_rows(), 400);  // the retried chunk is smaller
  sizer.Observe(400, absl::Milliseconds(10));
  EXPECT_EQ(sizer.next_rows(), 800);  // then back to the fixed size
}

TEST(ChunkSizerTest, EmptyChunkTeachesNothing) {
  ChunkSizer sizer(Options(1000, absl::Milliseconds(500)));
  sizer.Observe(0, absl::Seconds(10));
  EXPECT_EQ(sizer.next_rows(), 1000);
}

}  // namespace
}  // namespace backfill
