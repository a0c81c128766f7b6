// Micro-benchmarks of the pacing logic the copier runs between chunks:
// one ThrottleController step (Check + RecordChunk) with a few fresh signals,
// the rows/s token bucket, and one ChunkSizer::Observe.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "backfill/throttle/chunk_sizer.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/controller.h"
#include "backfill/throttle/signal.h"
#include "benchmark/benchmark.h"

namespace backfill {
namespace {

// A clock that moves only when told, so readings never go stale.
class StepClock : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// Registers `signals` signals (replica lag per replica, and the probe p95),
// all under threshold, then times one copier step: Check() and, as after a
// committed chunk, RecordChunk().
void BM_ControllerStep(benchmark::State& state) {
  StepClock clock;
  ThrottleOptions options;
  options.clock = &clock;
  options.max_rows_per_second = state.range(1) ? 50000 : 0;
  ThrottleController controller(options);
  std::vector<std::string> names;
  for (int i = 0; i < state.range(0); ++i) {
    names.push_back(i == 0 ? "probe_latency p95"
                           : "replication_lag replica=r" + std::to_string(i));
    controller.Update(names.back(), Reading::Ok(0.2, 1.0, "s"));
  }
  // The clock stands still: readings stay fresh for any iteration count, and
  // the step measured is the evaluation itself.
  for (auto _ : state) {
    Decision d = controller.Check();
    if (!d.proceed()) state.SkipWithError(d.reason.c_str());
    benchmark::DoNotOptimize(controller.DelayFor(1000));
    controller.RecordChunk(10);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ControllerStep)
    ->ArgNames({"signals", "rate_cap"})
    ->Args({1, 0})
    ->Args({3, 0})
    ->Args({3, 1});

// A poller's Update of one signal (a heartbeat reading every 100ms).
void BM_ControllerUpdate(benchmark::State& state) {
  StepClock clock;
  ThrottleOptions options;
  options.clock = &clock;
  ThrottleController controller(options);
  for (auto _ : state) {
    controller.Update("replication_lag replica=r1",
                      Reading::Ok(0.05, 1.0, "s"));
  }
}
BENCHMARK(BM_ControllerUpdate);

// One ChunkSizer::Observe on the adaptive path, alternating a chunk near the
// 500ms target with one far over it (the hard-cut branch).
void BM_ChunkSizerObserve(benchmark::State& state) {
  ChunkSizer sizer(ChunkSizerOptions{});
  int64_t i = 0;
  for (auto _ : state) {
    const absl::Duration elapsed =
        (++i & 1) ? absl::Milliseconds(480) : absl::Milliseconds(1200);
    sizer.Observe(sizer.next_rows(), elapsed);
    benchmark::DoNotOptimize(sizer.next_rows());
  }
}
BENCHMARK(BM_ChunkSizerObserve);

}  // namespace
}  // namespace backfill
