#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_SQL_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_SQL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "backfill/engine/job_spec.h"

namespace backfill::pg {

// Quotes an identifier for PostgreSQL: "name", with " doubled.
std::string QuoteIdent(absl::string_view name);

// A table as it appears in statements: the qualified name for FROM/UPDATE and
// the bare name that qualifies its columns ("repo"."id").
struct PgTable {
  std::string qualified;  // "public"."repo" (or "repo" without a schema)
  std::string ref;        // "repo"
};
PgTable MakePgTable(const TableName& name);

// A resolved assignment: quoted column, its SQL type (format_type) and the
// expression computing it.
struct PgAssignment {
  std::string column;
  std::string type;
  std::string expression;
};

// Everything needed to render one job's statements, resolved against the
// catalog by the adapter. Rendering is pure so it can be unit-tested.
struct PgChunkModel {
  Shape shape = Shape::kColumn;
  PgTable target;                 // updated or inserted into
  std::optional<PgTable> source;  // join, copy
  PgTable walked;                 // target (column, join) or source (copy)
  std::vector<std::string> key_columns;  // quoted, walked key in order
  std::vector<std::string> key_types;    // format_type of each key column
  std::vector<PgAssignment> assignments;
  std::vector<std::string> conflict_columns;  // copy: target's primary key
  std::string on;
  std::string where;
};

// The statements of a job. "first" variants have no lower bound (the first
// chunk); "next" variants take the lower bound as their first parameters.
// Parameter order: [lower key...], bound key..., then any extra parameter.
struct PgStatements {
  std::string high_water;      // no parameters
  std::string boundary_first;  // (high-water..., offset) -> key of the last row
  std::string boundary_next;   // (lower..., high-water..., offset)
  std::string count_first;     // (high-water...) -> count(*)
  std::string count_next;      // (lower..., high-water...)
  std::string lock_first;      // (upper...) -> count(*); empty when not needed
  std::string lock_next;       // (lower..., upper...)
  std::string write_first;     // (upper...) the guarded write
  std::string write_next;      // (lower..., upper...)
  // Read-only check of a chunk: (lower..., upper..., limit) -> one row per
  // mismatched row, up to limit: walked key..., total mismatched, total
  // missing (copy), in key order.
  std::string verify_first;
  std::string verify_next;
};

PgStatements RenderPgStatements(const PgChunkModel& model);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_SQL_H_
