#include "cli/flags.h"

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace backfill {

absl::StatusOr<JobSpec> BuildJobSpec(const RunFlags& f) {
  JobSpec spec;
  spec.job = f.common.job;
  auto table = [](const std::string& text, const char* flag) {
    return ParseTableName(text, flag);
  };
  if (!f.into.empty()) {
    spec.shape = Shape::kCopy;
    if (!f.table.empty()) {
      return absl::InvalidArgumentError(
          "--table and --into exclude each other: "
          "copy takes --from OLD --into NEW");
    }
    if (f.from.empty())
      return absl::InvalidArgumentError("--into needs --from OLD");
    if (!f.sets.empty()) {
      return absl::InvalidArgumentError(
          "the copy shape takes --columns, not --set");
    }
    absl::StatusOr<TableName> into = table(f.into, "--into");
    if (!into.ok()) return into.status();
    spec.table = *into;
    absl::StatusOr<TableName> from = table(f.from, "--from");
    if (!from.ok()) return from.status();
    spec.source = *from;
    if (f.columns.empty()) {
      return absl::InvalidArgumentError(
          "the copy shape needs --columns \"a, b, c = expr\"");
    }
    absl::StatusOr<std::vector<Assignment>> columns =
        ParseColumnList(f.columns);
    if (!columns.ok()) return columns.status();
    spec.assignments = *std::move(columns);
  } else {
    if (f.table.empty()) {
      return absl::InvalidArgumentError(
          "no table: give --table T (column, join) or --from OLD --into NEW "
          "(copy)");
    }
    if (!f.columns.empty()) {
      return absl::InvalidArgumentError(
          "--columns belongs to the copy shape (--into)");
    }
    absl::StatusOr<TableName> t = table(f.table, "--table");
    if (!t.ok()) return t.status();
    spec.table = *t;
    if (!f.from.empty()) {
      spec.shape = Shape::kJoin;
      absl::StatusOr<TableName> from = table(f.from, "--from");
      if (!from.ok()) return from.status();
      spec.source = *from;
    }
    for (const std::string& set : f.sets) {
      absl::StatusOr<Assignment> a = ParseAssignment(set);
      if (!a.ok()) return a.status();
      spec.assignments.push_back(*std::move(a));
    }
  }
  spec.on = f.on;
  spec.where = f.where;
  if (!f.key.empty()) {
    absl::StatusOr<std::vector<std::string>> key = ParseKeyColumns(f.key);
    if (!key.ok()) return key.status();
    spec.key = *std::move(key);
  }
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
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
