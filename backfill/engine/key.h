#ifndef BACKFILL_ENGINE_KEY_H_
#define BACKFILL_ENGINE_KEY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace backfill {

// A value of the walked key: one text value per key column, in key order, in
// the database's own text representation (what the server prints and accepts
// back through a cast). Key columns are NOT NULL, so no element is null.
using Key = std::vector<std::string>;

// Encodes a key as a JSON array of strings, e.g. ["42","b\"c"]: the form
// stored in the checkpoint table and shown by `backfill status`.
std::string EncodeKey(const Key& key);

// Inverse of EncodeKey. Returns kInvalidArgument for anything that is not a
// JSON array of strings.
absl::StatusOr<Key> DecodeKey(absl::string_view text);

// A short human form: the single value for a one-column key, else "(a, b)".
std::string KeyToDisplay(const Key& key);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_KEY_H_
