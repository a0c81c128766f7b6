// Fuzz target: job-spec parsing (backfill/engine/job_spec.h: `sets`,
// `columns`, `key`, table names) and identifier quoting for both databases
// (pg::QuoteIdent, mysql::QuoteIdent).
//
// Any text in any member: ParseJobText returns a spec or kInvalidArgument
// with a one-line message, never crashes; every identifier of an accepted
// spec, and any text at all, quotes to exactly one identifier: the quoted
// text, read back as the server's tokenizer reads a quoted identifier, ends
// where it ends and gives back the name.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "backfill/adapters/mysql/mysql_sql.h"
#include "backfill/adapters/postgres/pg_sql.h"
#include "backfill/engine/job_spec.h"

namespace {

void Require(bool ok, const char* what, const std::string& name) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_job_spec: %s: [%s]\n", what, name.c_str());
  std::abort();
}

// Reads one quoted identifier from the start of `sql` as PostgreSQL ("...")
// or MySQL (`...`) do: the quote doubled inside stands for itself. The name
// and where it ended, or nullopt when `sql` does not start with one.
std::optional<std::pair<std::string, size_t>> ReadQuoted(const std::string& sql,
                                                         char quote) {
  if (sql.empty() || sql[0] != quote) return std::nullopt;
  std::string name;
  for (size_t i = 1; i < sql.size(); ++i) {
    if (sql[i] != quote) {
      name.push_back(sql[i]);
    } else if (i + 1 < sql.size() && sql[i + 1] == quote) {
      name.push_back(quote);
      ++i;
    } else {
      return std::make_pair(name, i + 1);
    }
  }
  return std::nullopt;
}

void CheckQuoted(const std::string& name) {
  for (const auto& [quoted, quote] :
       {std::make_pair(backfill::pg::QuoteIdent(name), '"'),
        std::make_pair(backfill::mysql::QuoteIdent(name), '`')}) {
    auto read = ReadQuoted(quoted, quote);
    Require(read.has_value(), "a quoted identifier does not read back", name);
    Require(read->second == quoted.size(),
            "a quoted identifier ends before its text does", name);
    Require(read->first == name, "a quoted identifier reads as another name",
            name);
  }
}

void CheckSpec(const backfill::JobSpec& spec) {
  CheckQuoted(spec.table.schema);
  CheckQuoted(spec.table.name);
  if (spec.source.has_value()) {
    CheckQuoted(spec.source->schema);
    CheckQuoted(spec.source->name);
  }
  for (const backfill::Assignment& a : spec.assignments) CheckQuoted(a.column);
  for (const std::string& k : spec.key) CheckQuoted(k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  backfill::JobText text;
  text.table = in.ConsumeRandomLengthString(64);
  if (in.ConsumeBool()) text.from = in.ConsumeRandomLengthString(64);
  if (in.ConsumeBool()) text.into = in.ConsumeRandomLengthString(64);
  if (in.ConsumeBool()) text.on = in.ConsumeRandomLengthString(64);
  const int sets = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < sets; ++i)
    text.sets.push_back(in.ConsumeRandomLengthString(64));
  if (in.ConsumeBool()) text.columns = in.ConsumeRandomLengthString(128);
  if (in.ConsumeBool()) text.where = in.ConsumeRandomLengthString(64);
  if (in.ConsumeBool()) text.key = in.ConsumeRandomLengthString(64);
  absl::StatusOr<backfill::JobSpec> spec = backfill::ParseJobText(text);
  if (spec.ok()) {
    CheckSpec(*spec);
  } else {
    Require(spec.status().code() == absl::StatusCode::kInvalidArgument,
            "ParseJobText failed with a code other than kInvalidArgument",
            std::string(spec.status().message()));
  }
  CheckQuoted(in.ConsumeRemainingBytesAsString());
  return 0;
}
