#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_SQL_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_SQL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/job_spec.h"

// Statement rendering for MySQL and MariaDB: pure string functions, no
// connection, so every statement can be unit-tested. Everything rendered here
// runs unchanged on MariaDB 10.11 and MySQL 8.0, and makes no assumption about
// the session's sql_mode beyond what the caller passes in: identifiers are
// always `backticked` (never "double-quoted", which means a string unless
// ANSI_QUOTES is set) and strings are '...' literals escaped for the
// connection's NO_BACKSLASH_ESCAPES setting.
namespace backfill::mysql {

// Quotes an identifier: `name`, with ` doubled.
std::string QuoteIdent(absl::string_view name);

// Quotes `value` as a string literal for a utf8mb4 connection. A quote is
// always doubled; backslash and NUL are escaped unless the session runs with
// NO_BACKSLASH_ESCAPES, where a backslash is an ordinary character.
std::string QuoteString(absl::string_view value, bool no_backslash_escapes);

// A table as it appears in statements: the qualified name for FROM/UPDATE and
// the bare name that qualifies its columns (`repo`.`id`).
struct MysqlTable {
  std::string
      qualified;    // `db`.`repo` (or `repo` in the connection's database)
  std::string ref;  // `repo`
};
MysqlTable MakeMysqlTable(const TableName& name);

// How a key column's values are read and written back so that they
// round-trip exactly and compare in the column's own type and collation.
enum class KeyKind {
  kInteger,   // integer types and YEAR: a bare, validated integer literal
  kDecimal,   // DECIMAL: a bare, validated decimal literal (exact)
  kString,    // CHAR, VARCHAR, TEXT: a '...' literal, compared under the
              // column's collation (the literal is coercible, the column wins)
  kTemporal,  // DATE, TIME, DATETIME, TIMESTAMP: a '...' literal the server
              // converts to the column's type
  kBinary,    // BINARY, VARBINARY, BLOB: read as HEX(col), written as X'...'
};

// The kind for an information_schema DATA_TYPE ("bigint", "varchar", ...).
// nullopt for types a key cannot be walked over exactly: FLOAT and DOUBLE
// (approximate), ENUM and SET (sorted by ordinal but compared as strings),
// BIT, JSON and spatial types.
std::optional<KeyKind> KeyKindForDataType(absl::string_view data_type);

// The expression that selects key column `column` (quoted) so that its text
// can be given back to KeyLiteral: HEX(col) for kBinary, else col.
std::string KeySelect(KeyKind kind, const std::string& column);

// Renders one key value (as read through KeySelect) as a literal of its
// column. kInvalidArgument when the value does not have the kind's shape
// (only possible for a checkpoint edited by hand).
absl::StatusOr<std::string> KeyLiteral(KeyKind kind, absl::string_view value,
                                       bool no_backslash_escapes);

// A resolved assignment: the quoted target column, the expression computing
// it, and, for character columns, the column's character set (see
// MysqlChunkModel::assignments).
struct MysqlAssignment {
  std::string column;
  std::string expression;
  std::string charset;  // empty for non-character columns
  // The CAST target closest to the column's type where CAST has one
  // ("SIGNED", "UNSIGNED", "DECIMAL(12,2)", "DATE", "DATETIME(6)",
  // "TIME(0)"), else empty. Only `verify` uses it (see VerifySql).
  std::string cast;
};

// Everything needed to render one job's statements, resolved against
// information_schema by the adapter.
struct MysqlChunkModel {
  Shape shape = Shape::kColumn;
  MysqlTable target;                 // updated or inserted into
  std::optional<MysqlTable> source;  // join, copy
  MysqlTable walked;                 // target (column, join) or source (copy)
  std::vector<std::string> key_columns;  // quoted, walked key in order
  std::vector<KeyKind> key_kinds;        // one per key column
  std::vector<MysqlAssignment> assignments;
  std::vector<std::string>
      conflict_columns;  // copy: target's primary key, quoted
  std::string on;
  std::string where;
};

// Key literals, one per key column, as KeyLiteral renders them (or "?" to
// display a statement, "NULL" to EXPLAIN it).
using KeyLiterals = std::vector<std::string>;

// The key range predicate over the key columns qualified by `qualifier`
// (none when empty): [key > lower AND] key <= upper. Row comparisons are
// expanded, e.g. for (a, b):
//   a >= x AND (a > x OR (a = x AND b > y))
// because the MySQL and MariaDB optimizers do not turn a row constructor
// comparison `(a, b) > (x, y)` into an index range in every version; the
// expanded form is a union of ranges on the key's index, and the leading
// `a >= x` gives the optimizer a plain range even where it does not merge
// the OR.
std::string KeyRange(const MysqlChunkModel& m, absl::string_view qualifier,
                     const KeyLiterals* lower, const KeyLiterals& upper);

// The largest key of the walked table (KeySelect columns), no bound.
std::string HighWaterSql(const MysqlChunkModel& m);

// The key of the row `offset` rows into (lower, high_water], in key order.
// `offset` is text so that "?" can be shown.
std::string BoundarySql(const MysqlChunkModel& m, const KeyLiterals* lower,
                        const KeyLiterals& high_water,
                        absl::string_view offset);

// count(*) of walked rows in (lower, upper].
std::string CountSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                     const KeyLiterals& upper);

// Join shape: share-locks the rows of both tables that the write joins and
// returns one count(*). Empty for the column shape, whose UPDATE locks the
// very rows it reads, and for the copy shape, whose INSERT ... SELECT
// share-locks the rows it copies.
std::string LockSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                    const KeyLiterals& upper);

// The guarded write of the chunk (lower, upper].
std::string WriteSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                     const KeyLiterals& upper);

// Read-only check of the chunk (lower, upper]: one row per walked row whose
// new representation differs from what the spec computes, in key order, at
// most `limit`: the walked key (KeySelect form), the total count of
// differing rows, and (copy) the total count of source rows missing from the
// target. Runs on MariaDB 10.2+ and MySQL 8.0 (CTE, window functions).
//
// Unlike the write guard, which may call a row different when the assignment
// would store the same value (the server then skips it), a verification
// must not: the expression is first converted as the assignment would
// convert it, with CAST where MySQL has a matching target type and
// CONVERT ... USING for character columns, and compared byte-wise for those.
std::string VerifySql(const MysqlChunkModel& m, const KeyLiterals* lower,
                      const KeyLiterals& upper, int64_t limit);

// The affected-rows count of an INSERT ... ON DUPLICATE KEY UPDATE counts an
// inserted row once, an updated row twice and an unchanged row not at all
// (CLIENT_FOUND_ROWS off); the statement's info string ("Records: R
// Duplicates: D Warnings: W") gives D, the rows updated. Returns the rows
// inserted or changed, affected - D, or nullopt when `info` does not parse.
std::optional<int64_t> CopyRowsWritten(uint64_t affected_rows,
                                       absl::string_view info);

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_SQL_H_
