#include "cli/status_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backfill/engine/json.h"
#include "cli/progress.h"

namespace backfill {
namespace {

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string OptionalKey(const std::optional<Key>& key) {
  return key.has_value() ? KeyToDisplay(*key) : "-";
}

}  // namespace

std::string FormatStatusTable(const std::vector<Checkpoint>& checkpoints) {
  std::vector<std::vector<std::string>> rows = {
      {"JOB", "STATE", "PROGRESS", "ROWS WALKED", "ROWS WRITTEN", "CHUNKS",
       "LAST KEY", "HIGH-WATER", "UPDATED", "MESSAGE"}};
  for (const Checkpoint& cp : checkpoints) {
    std::string state(JobStateName(cp.state));
    if (cp.pause_requested && cp.state != JobState::kPaused)
      state += " (pause requested)";
    rows.push_back(
        {cp.job, state, absl::StrFormat("%.1f%%", 100 * cp.progress()),
         WithCommas(cp.rows_walked), WithCommas(cp.rows_written),
         WithCommas(cp.chunks), OptionalKey(cp.last_key),
         OptionalKey(cp.high_water), Time(cp.updated_at), cp.message});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string CheckpointToJson(const Checkpoint& cp) {
  auto key = [](const std::optional<Key>& k) {
    return k.has_value() ? EncodeKey(*k) : std::string("null");
  };
  return absl::StrFormat(
      "{\"job\":%s,\"state\":%s,\"pause_requested\":%s,\"progress\":%.4f,"
      "\"rows_estimate\":%d,\"rows_walked\":%d,\"rows_written\":%d,\"chunks\":%"
      "d,"
      "\"last_key\":%s,\"high_water\":%s,\"spec\":%s,\"fingerprint\":%s,"
      "\"message\":%s,\"started_at\":%s,\"updated_at\":%s}",
      JsonString(cp.job), JsonString(JobStateName(cp.state)),
      cp.pause_requested ? "true" : "false", cp.progress(), cp.rows_estimate,
      cp.rows_walked, cp.rows_written, cp.chunks, key(cp.last_key),
      key(cp.high_water), JsonString(cp.spec), JsonString(cp.fingerprint),
      JsonString(cp.message),
      JsonString(absl::FormatTime(absl::RFC3339_sec, cp.started_at,
                                  absl::UTCTimeZone())),
      JsonString(absl::FormatTime(absl::RFC3339_sec, cp.updated_at,
                                  absl::UTCTimeZone())));
}

}  // namespace backfill
