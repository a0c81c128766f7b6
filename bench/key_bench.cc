// Micro-benchmarks of the checkpoint key codec (backfill/engine/key.h): every
// chunk encodes its last key into the checkpoint row, and a resume decodes it.

#include <string>

#include "backfill/engine/key.h"
#include "benchmark/benchmark.h"

namespace backfill {
namespace {

Key IntegerKey() { return {"4000000"}; }
Key CompositeKey() { return {"acme-corp", "backfill \"v2\"", "12345"}; }
Key UuidKey() { return {"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}; }

void BM_EncodeKey(benchmark::State& state, Key key) {
  for (auto _ : state) benchmark::DoNotOptimize(EncodeKey(key));
}
BENCHMARK_CAPTURE(BM_EncodeKey, integer, IntegerKey());
BENCHMARK_CAPTURE(BM_EncodeKey, uuid, UuidKey());
BENCHMARK_CAPTURE(BM_EncodeKey, composite_escaped, CompositeKey());

void BM_DecodeKey(benchmark::State& state, Key key) {
  const std::string text = EncodeKey(key);
  for (auto _ : state) {
    auto decoded = DecodeKey(text);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK_CAPTURE(BM_DecodeKey, integer, IntegerKey());
BENCHMARK_CAPTURE(BM_DecodeKey, uuid, UuidKey());
BENCHMARK_CAPTURE(BM_DecodeKey, composite_escaped, CompositeKey());

}  // namespace
}  // namespace backfill
