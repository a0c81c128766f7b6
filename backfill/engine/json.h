#ifndef BACKFILL_ENGINE_JSON_H_
#define BACKFILL_ENGINE_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace backfill {

// Appends `s` to `out` as a JSON string literal, quotes included. Control
// characters are \u-escaped; bytes >= 0x80 pass through (UTF-8 stays UTF-8).
void AppendJsonString(absl::string_view s, std::string* out);

// Convenience form of AppendJsonString.
std::string JsonString(absl::string_view s);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_JSON_H_
