// Fuzz target: the checkpoint key codec (backfill/engine/key.h).
//
// DecodeKey never crashes on any text, and what it accepts encodes back to
// a text that decodes to the same key; and for any key (any bytes in any
// number of values), DecodeKey(EncodeKey(k)) == k.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backfill/engine/key.h"

namespace {

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_key_codec: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<backfill::Key> decoded = backfill::DecodeKey(text);
  if (decoded.ok()) {
    absl::StatusOr<backfill::Key> again =
        backfill::DecodeKey(backfill::EncodeKey(*decoded));
    Require(again.ok() && *again == *decoded,
            "a decoded key does not survive encode and decode");
  }
  FuzzedDataProvider in(data, size);
  backfill::Key key;
  const int values = in.ConsumeIntegralInRange(1, 4);
  for (int i = 0; i < values; ++i)
    key.push_back(in.ConsumeRandomLengthString());
  absl::StatusOr<backfill::Key> round =
      backfill::DecodeKey(backfill::EncodeKey(key));
  Require(round.ok(), "DecodeKey refused what EncodeKey wrote");
  Require(*round == key, "DecodeKey(EncodeKey(k)) != k");
  return 0;
}
