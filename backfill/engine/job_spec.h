#ifndef BACKFILL_ENGINE_JOB_SPEC_H_
#define BACKFILL_ENGINE_JOB_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace backfill {

// The three shapes of a step-3 backfill (docs/DESIGN.md).
enum class Shape {
  kColumn,  // new column from old columns of the same row (UPDATE t SET ...)
  kJoin,    // new column filled from another table (UPDATE t ... FROM s)
  kCopy,    // rows of an old table into a new table (INSERT ... SELECT)
};

absl::string_view ShapeName(Shape shape);

// A table as the user named it: `name` or `schema.name`, each part possibly
// quoted on the command line. Parts hold real (unquoted) names; adapters quote
// them for their dialect. An empty schema means the connection's default.
struct TableName {
  std::string schema;
  std::string name;

  std::string ToString() const;  // "schema.name" or "name", for messages
  bool operator==(const TableName&) const = default;
};

// One target column and the SQL expression that computes it.
struct Assignment {
  std::string column;  // real name of the column written
  // SQL expression evaluated against the source row. For the copy shape an
  // absent expression means "the source column of the same name".
  std::optional<std::string> expression;
};

// What to backfill. Everything here is part of the job's identity: it is
// fingerprinted into the checkpoint, and a resume with a different spec is
// refused (docs/DESIGN.md invariant 5). Pacing is deliberately not part of it.
struct JobSpec {
  // Checkpoint key. Empty means DefaultJobName(*this).
  std::string job;
  Shape shape = Shape::kColumn;
  // column, join: the table updated (and walked, for both).
  // copy: the new table rows are copied into.
  TableName table;
  // join: the table the values come from. copy: the old table (walked).
  std::optional<TableName> source;
  // join: the join condition, e.g. "star.repo_name = repo.repo_name".
  std::string on;
  // column, join: the --set assignments. copy: the --columns mapping.
  std::vector<Assignment> assignments;
  // Optional extra predicate on the walked table's rows. Chunk bounds are
  // still taken over all rows of the key range (keeping the cost of a chunk
  // bounded); the predicate only filters which rows a chunk writes.
  std::string where;
  // Walked key columns. Empty means the walked table's primary key.
  std::vector<std::string> key;

  // The walked table: `table` for column and join, `source` for copy.
  const TableName& walked_table() const;
};

// Parses "schema.name" / "name" (parts may be "quoted" or `quoted`).
absl::StatusOr<TableName> ParseTableName(absl::string_view text,
                                         absl::string_view what);

// Parses one of JobText::sets, "column = expression".
absl::StatusOr<Assignment> ParseAssignment(absl::string_view text);

// Parses the copy shape's JobText::columns, "a, b, c = expression, ...".
absl::StatusOr<std::vector<Assignment>> ParseColumnList(absl::string_view text);

// Parses JobText::key, "a, b".
absl::StatusOr<std::vector<std::string>> ParseKeyColumns(
    absl::string_view text);

// Checks what can be checked without a database: the fields each shape needs
// are present and no others, no column is assigned twice, every SQL fragment
// stays in its slot (CheckSqlFragment). kInvalidArgument on failure.
absl::Status ValidateJobSpec(const JobSpec& spec);

// A job spec as text, as the command line and a TOML job file give it (each
// member is the flag of its name; `sets` are the --set arguments). The shape
// follows from what is given: `into` makes a copy (from `from` into `into`,
// with `columns`), `from` without `into` a join (`table` from `from` on
// `on`, with `sets`), neither a column backfill (`table` with `sets`).
// Table names may be "schema.name" and quoted; `key` is "a, b".
struct JobText {
  std::string job;  // empty: DefaultJobName
  std::string table;
  std::string from;
  std::string into;
  std::string on;
  std::vector<std::string> sets;  // each "column = SQL expression"
  std::string columns;            // "a, b, c = expression, ..."
  std::string where;
  std::string key;
};

// The JobSpec `text` gives, validated (ValidateJobSpec). kInvalidArgument
// when it does not parse or does not fit one shape. Messages name JobText
// members in backquotes ("`sets` \"a\": expected \"column = expression\"",
// "the copy shape takes `columns`, not `sets`"), as every library message
// names its options (the command turns them into its flags).
absl::StatusOr<JobSpec> ParseJobText(const JobText& text);

// "repo" for a column or join backfill of repo, "orders_v2" for a copy into
// orders_v2 (schema-qualified when the table is).
std::string DefaultJobName(const JobSpec& spec);

// A canonical one-line description of the spec, e.g.
// `join repo from star on (star.repo_name = repo.repo_name) set star_count =
// (star.star_count)`.
std::string DescribeJobSpec(const JobSpec& spec);

// Stable fingerprint of DescribeJobSpec (16 hex digits, FNV-1a 64): equal
// specs give equal fingerprints across processes, hosts and versions.
std::string FingerprintJobSpec(const JobSpec& spec);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_JOB_SPEC_H_
