#include "cli/flags.h"

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/flag_terms.h"

namespace backfill {

int ExitCodeFor(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kDone:
      return kExitOk;
    case RunOutcome::kCritical:
      return kExitCritical;
    case RunOutcome::kSliceEnd:
      return kExitSliceEnd;
    default:
      return kExitStopped;
  }
}

absl::StatusOr<JobSpec> BuildJobSpec(const RunFlags& f) {
  absl::StatusOr<JobSpec> spec = ParseJobText({.job = f.common.job,
                                               .table = f.table,
                                               .from = f.from,
                                               .into = f.into,
                                               .on = f.on,
                                               .sets = f.sets,
                                               .columns = f.columns,
                                               .where = f.where,
                                               .key = f.key});
  if (!spec.ok()) return InFlagTerms(spec.status());
  return spec;
}

absl::StatusOr<ChunkSizerOptions> BuildChunking(const RunFlags& f) {
  ChunkSizerOptions c;
  if (!absl::ParseDuration(f.target_chunk_time, &c.target_chunk_time) ||
      c.target_chunk_time < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--target-chunk-time \"", f.target_chunk_time,
                     "\": expected a duration such as 500ms, 2s or 0"));
  }
  if (f.chunk_rows < 1 || f.min_chunk_rows < 1 ||
      f.max_chunk_rows < f.min_chunk_rows) {
    return absl::InvalidArgumentError(
        "chunk sizes must satisfy 1 <= --min-chunk-rows <= --max-chunk-rows, "
        "and --chunk-rows >= 1");
  }
  c.initial_rows = f.chunk_rows;
  c.min_rows = f.min_chunk_rows;
  c.max_rows = f.max_chunk_rows;
  if (c.target_chunk_time == absl::ZeroDuration()) {
    // Fixed size: exactly --chunk-rows, whatever the bounds say.
    c.min_rows = std::min(c.min_rows, f.chunk_rows);
    c.max_rows = std::max(c.max_rows, f.chunk_rows);
  }
  return c;
}

absl::StatusOr<ConnectOptions> BuildConnectOptions(const CommonFlags& f) {
  ConnectOptions options;
  options.dsn = f.dsn;
  options.defaults_file = f.defaults_file;
  if (absl::Status s =
          ParseDurationFlag("--statement-timeout", f.statement_timeout,
                            &options.statement_timeout);
      !s.ok()) {
    return s;
  }
  if (!f.password_file.empty()) {
    std::ifstream in(f.password_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--password-file ", f.password_file, ": cannot read it"));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    options.password = line;
  }
  return options;
}

}  // namespace backfill
