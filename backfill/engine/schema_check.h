#ifndef BACKFILL_ENGINE_SCHEMA_CHECK_H_
#define BACKFILL_ENGINE_SCHEMA_CHECK_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/job_spec.h"

namespace backfill {

// The schema checks of a job spec (docs/DESIGN.md "Schema checks"), written
// once over the facts each adapter reads from its catalog. Internal to the
// engine and its adapters.

// One column as the catalog describes it.
struct ColumnFacts {
  std::string name;  // as the server spells it
  std::string type;  // as the server prints it, for messages
  bool not_null = false;
  bool generated = false;
  // A keyset walk on this column is exact: its order is total and its
  // values round-trip through the checkpoint (MySQL: KeyKindForDataType;
  // PostgreSQL: every type with a btree order).
  bool walkable = true;
};

// One table as the catalog describes it, with the session's privileges.
struct TableFacts {
  std::string display;  // as the user named it, for messages
  std::vector<ColumnFacts> columns;
  std::vector<std::string> primary_key;  // real names, in key order
  // The privileges the session holds on the table. PostgreSQL reads them
  // (has_table_privilege); MySQL has no such function and reads them by
  // EXPLAINing each chunk statement (MysqlDatabase::Prepare), whose error is
  // the same kPermissionDenied.
  std::optional<bool> can_select;
  std::optional<bool> can_update;
  std::optional<bool> can_insert;
};

// How the database compares column names: PostgreSQL's catalog names are
// exact (an unquoted name was folded when the column was created); MySQL's
// column names match without regard to case.
enum class NameRule { kExact, kCaseInsensitive };

// The spec's columns, found in the facts (pointers into them).
struct SchemaMatch {
  std::vector<const ColumnFacts*> key;       // of the walked table
  std::vector<const ColumnFacts*> assigned;  // of the target, per assignment
  // Of the source, per assignment; nullptr where the assignment has an
  // expression.
  std::vector<const ColumnFacts*> copied;
  std::vector<std::string> conflict;  // copy: the target's primary key
};

// Checks `spec` against `target` and, for a copy or join, `source` (must
// outlive the result): the walked key is the walked table's primary key or
// the spec's key, NOT NULL and walkable; the assigned columns exist in the
// target and are not generated; a copy's plain columns exist in the source;
// a copy's target has a primary key, every column of which is copied; the
// session may update (copy: insert and update) the target and read the
// source. Errors:
//   kNotFound            a column that does not exist
//   kFailedPrecondition  no primary key, a nullable or unwalkable key
//   kInvalidArgument     a spec that does not fit the tables
//   kPermissionDenied    a privilege the facts say is missing
absl::StatusOr<SchemaMatch> CheckSchema(const JobSpec& spec,
                                        const TableFacts& target,
                                        const TableFacts* source,
                                        NameRule rule);

// What each adapter's catalog does first: reads the spec's table and, for a
// copy or join, its source with `read` (TableName -> absl::StatusOr<Table>,
// Table an adapter's type with a TableFacts member `facts`) into `*target`
// and `*source`, then CheckSchema over their facts. The match points into
// them. The first error of either.
template <typename Table, typename Read>
absl::StatusOr<SchemaMatch> ReadAndCheckSchema(const JobSpec& spec,
                                               NameRule rule, Read read,
                                               std::optional<Table>* target,
                                               std::optional<Table>* source) {
  absl::StatusOr<Table> t = read(spec.table);
  if (!t.ok()) return t.status();
  *target = *std::move(t);
  if (spec.source.has_value()) {
    absl::StatusOr<Table> s = read(*spec.source);
    if (!s.ok()) return s.status();
    *source = *std::move(s);
  }
  return CheckSchema(spec, (*target)->facts,
                     source->has_value() ? &(*source)->facts : nullptr, rule);
}

// The column `name` of `table` under `rule`, or nullptr.
const ColumnFacts* FindColumn(const TableFacts& table, absl::string_view name,
                              NameRule rule);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_SCHEMA_CHECK_H_
