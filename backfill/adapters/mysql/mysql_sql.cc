#include "backfill/adapters/mysql/mysql_sql.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace backfill::mysql {
namespace {

// Key columns, optionally qualified by a table reference.
std::vector<std::string> KeyRefs(const MysqlChunkModel& m,
                                 absl::string_view qualifier) {
  std::vector<std::string> out;
  for (const std::string& k : m.key_columns) {
    out.push_back(qualifier.empty() ? k : absl::StrCat(qualifier, ".", k));
  }
  return out;
}

// The expanded comparison of keys[i..] against values[i..]:
//   k_i <strict> v_i OR (k_i = v_i AND <the same for i+1>)
// ending in `k_last <last> v_last`.
std::string Expand(const std::vector<std::string>& keys,
                   const KeyLiterals& values, size_t i,
                   absl::string_view strict, absl::string_view last) {
  if (i + 1 == keys.size())
    return absl::StrCat(keys[i], " ", last, " ", values[i]);
  return absl::StrCat("(", keys[i], " ", strict, " ", values[i], " OR (",
                      keys[i], " = ", values[i], " AND ",
                      Expand(keys, values, i + 1, strict, last), "))");
}

// One side of the range. For a composite key the leading `k0 >= x0` (or
// `k0 <= x0`) is implied by the expansion; it is there for the optimizer.
std::string Side(const std::vector<std::string>& keys,
                 const KeyLiterals& values, bool lower) {
  const absl::string_view strict = lower ? ">" : "<";
  const absl::string_view last = lower ? ">" : "<=";
  if (keys.size() == 1) return Expand(keys, values, 0, strict, last);
  return absl::StrCat(keys[0], lower ? " >= " : " <= ", values[0], " AND ",
                      Expand(keys, values, 0, strict, last));
}

std::string Where(const MysqlChunkModel& m) {
  return m.where.empty() ? "" : absl::StrCat(" AND (", m.where, ")");
}

// NOT (<every assigned column already equals its expression>): true only for
// rows the write would change, so unchanged rows are neither rewritten nor
// counted (invariant 1).
//
// Numeric, temporal and binary columns compare with <=> as they are. When
// the assignment converts the expression (an INT column given 1.4, a DATE
// given a DATETIME), the guard can only err towards "different", and such a
// row costs nothing: MySQL and MariaDB compare the new record with the old
// one and skip rows that would not change (no write, no binlog event, not
// counted in affected rows). No CAST to the column type is needed for them,
// which is as well, because CAST cannot name most column types.
//
// Character columns are the exception: <=> compares under the column's
// collation, where 'ABC' = 'abc' (case-insensitive collations) and
// 'a' = 'a ' (PAD SPACE, including utf8mb4_bin), so the guard would call a
// changed value equal and skip it for good. They compare byte-wise after
// converting the expression to the column's character set, as the
// assignment would.
//
// `column` already holds what `expression` would store. With `cast` (verify
// only), the expression is converted to the column's type first.
std::string Equal(const MysqlAssignment& a, const std::string& column,
                  const std::string& expression, bool cast) {
  if (!a.charset.empty()) {
    return absl::StrCat("CAST(", column, " AS BINARY) <=> CAST(CONVERT((",
                        expression, ") USING ", a.charset, ") AS BINARY)");
  }
  if (cast && !a.cast.empty()) {
    return absl::StrCat(column, " <=> CAST((", expression, ") AS ", a.cast,
                        ")");
  }
  return absl::StrCat(column, " <=> (", expression, ")");
}

std::string Guard(const MysqlChunkModel& m, bool cast = false) {
  std::vector<std::string> equal;
  for (const MysqlAssignment& a : m.assignments) {
    equal.push_back(Equal(a, absl::StrCat(m.target.ref, ".", a.column),
                          a.expression, cast));
  }
  return absl::StrCat("NOT (", absl::StrJoin(equal, " AND "), ")");
}

// Assignments are qualified: in `UPDATE t JOIN s` both tables may have the
// column.
std::string SetList(const MysqlChunkModel& m) {
  return absl::StrJoin(m.assignments, ", ",
                       [&](std::string* o, const MysqlAssignment& a) {
                         absl::StrAppend(o, m.target.ref, ".", a.column, " = (",
                                         a.expression, ")");
                       });
}

std::string KeySelectList(const MysqlChunkModel& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.key_columns.size(); ++i) {
    out.push_back(KeySelect(m.key_kinds[i], m.key_columns[i]));
  }
  return absl::StrJoin(out, ", ");
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string QuoteIdent(absl::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

std::string QuoteString(absl::string_view value, bool no_backslash_escapes) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\' && !no_backslash_escapes) {
      out += "\\\\";
    } else if (c == '\0' && !no_backslash_escapes) {
      out += "\\0";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

MysqlTable MakeMysqlTable(const TableName& name) {
  MysqlTable t;
  t.ref = QuoteIdent(name.name);
  t.qualified = name.schema.empty()
                    ? t.ref
                    : absl::StrCat(QuoteIdent(name.schema), ".", t.ref);
  return t;
}

std::optional<KeyKind> KeyKindForDataType(absl::string_view data_type) {
  const std::string t = absl::AsciiStrToLower(data_type);
  for (const char* s : {"tinyint", "smallint", "mediumint", "int", "integer",
                        "bigint", "year"}) {
    if (t == s) return KeyKind::kInteger;
  }
  if (t == "decimal" || t == "numeric") return KeyKind::kDecimal;
  for (const char* s :
       {"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}) {
    if (t == s) return KeyKind::kString;
  }
  for (const char* s : {"date", "time", "datetime", "timestamp"}) {
    if (t == s) return KeyKind::kTemporal;
  }
  for (const char* s :
       {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}) {
    if (t == s) return KeyKind::kBinary;
  }
  return std::nullopt;
}

std::string KeySelect(KeyKind kind, const std::string& column) {
  return kind == KeyKind::kBinary ? absl::StrCat("HEX(", column, ")") : column;
}

absl::StatusOr<std::string> KeyLiteral(KeyKind kind, absl::string_view value,
                                       bool no_backslash_escapes) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("key value \"", value, "\" is not ", what));
  };
  switch (kind) {
    case KeyKind::kInteger: {
      absl::string_view digits = value;
      absl::ConsumePrefix(&digits, "-");
      if (!AllDigits(digits)) return bad("an integer");
      return std::string(value);
    }
    case KeyKind::kDecimal: {
      absl::string_view rest = value;
      absl::ConsumePrefix(&rest, "-");
      std::pair<absl::string_view, absl::string_view> parts =
          absl::StrSplit(rest, absl::MaxSplits('.', 1));
      if (!AllDigits(parts.first) ||
          (rest.find('.') != absl::string_view::npos &&
           !AllDigits(parts.second))) {
        return bad("a decimal number");
      }
      return std::string(value);
    }
    case KeyKind::kString:
    case KeyKind::kTemporal:
      return QuoteString(value, no_backslash_escapes);
    case KeyKind::kBinary:
      if (value.size() % 2 != 0) return bad("hexadecimal");
      for (char c : value) {
        if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)))
          return bad("hexadecimal");
      }
      return absl::StrCat("X'", value, "'");
  }
  return bad("of a known kind");
}

std::string KeyRange(const MysqlChunkModel& m, absl::string_view qualifier,
                     const KeyLiterals* lower, const KeyLiterals& upper) {
  const std::vector<std::string> keys = KeyRefs(m, qualifier);
  std::string out;
  if (lower != nullptr)
    absl::StrAppend(&out, Side(keys, *lower, true), " AND ");
  absl::StrAppend(&out, Side(keys, upper, false));
  return out;
}

std::string HighWaterSql(const MysqlChunkModel& m) {
  std::vector<std::string> desc;
  for (const std::string& k : m.key_columns)
    desc.push_back(absl::StrCat(k, " DESC"));
  return absl::StrCat("SELECT ", KeySelectList(m), " FROM ", m.walked.qualified,
                      " ORDER BY ", absl::StrJoin(desc, ", "), " LIMIT 1");
}

std::string BoundarySql(const MysqlChunkModel& m, const KeyLiterals* lower,
                        const KeyLiterals& high_water,
                        absl::string_view offset) {
  return absl::StrCat("SELECT ", KeySelectList(m), " FROM ", m.walked.qualified,
                      " WHERE ", KeyRange(m, "", lower, high_water),
                      " ORDER BY ", absl::StrJoin(m.key_columns, ", "),
                      " LIMIT 1 OFFSET ", offset);
}

std::string CountSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                     const KeyLiterals& upper) {
  return absl::StrCat("SELECT count(*) FROM ", m.walked.qualified, " WHERE ",
                      KeyRange(m, "", lower, upper));
}

// Join shape: `SELECT count(*) ... LOCK IN SHARE MODE` share-locks every row
// it reads and returns one row (a multi-table UPDATE takes no locking
// clause). Chosen for both servers: LOCK IN SHARE MODE is
// accepted by MySQL 8.0 (which also has FOR SHARE) and MariaDB (which has
// only this spelling); an aggregate may carry a locking clause on both
// (PostgreSQL needs a derived table); and no derived table is involved,
// whose merging or materialisation could decide whether its rows are locked.
// MariaDB has no `OF table`, so the join locks the target's rows as well as
// the source's; the UPDATE that follows locks them exclusively anyway.
std::string LockSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                    const KeyLiterals& upper) {
  switch (m.shape) {
    case Shape::kColumn:
      return "";  // the UPDATE locks (and re-reads) the very rows it reads
    case Shape::kJoin:
      return absl::StrCat("SELECT count(*) FROM ", m.target.qualified, " JOIN ",
                          m.source->qualified, " ON (", m.on, ") WHERE ",
                          KeyRange(m, m.target.ref, lower, upper), Where(m),
                          " LOCK IN SHARE MODE");
    case Shape::kCopy:
      return "";  // the INSERT ... SELECT carries the locking clause
  }
  return "";
}

std::string WriteSql(const MysqlChunkModel& m, const KeyLiterals* lower,
                     const KeyLiterals& upper) {
  switch (m.shape) {
    case Shape::kColumn:
      return absl::StrCat("UPDATE ", m.target.qualified, " SET ", SetList(m),
                          " WHERE ", KeyRange(m, m.target.ref, lower, upper),
                          Where(m), " AND ", Guard(m));
    case Shape::kJoin:
      // The multi-table UPDATE syntax of both servers (no UPDATE ... FROM).
      return absl::StrCat(
          "UPDATE ", m.target.qualified, " JOIN ", m.source->qualified, " ON (",
          m.on, ") SET ", SetList(m), " WHERE ",
          KeyRange(m, m.target.ref, lower, upper), Where(m), " AND ", Guard(m));
    case Shape::kCopy: {
      // The SELECT share-locks the rows it copies, whatever the session's
      // isolation level (under READ COMMITTED an INSERT ... SELECT alone
      // reads a snapshot without locks, and would copy a stale value over
      // the application's newer dual-write). Both servers accept a locking
      // clause there: MariaDB's grammar and MySQL 8.0's
      // query_expression_with_opt_locking_clauses; one statement instead
      // of a separate locking SELECT saves reading the chunk twice.
      //
      // ON DUPLICATE KEY UPDATE col = VALUES(col) runs on both servers.
      // VALUES() is deprecated from MySQL 8.0.20 in favour of a row alias
      // (`... AS new ON DUPLICATE KEY UPDATE col = new.col`), which MariaDB
      // does not have; it still works on MySQL 8 with a warning.
      //
      // No `<=>` guard here: the server compares the updated record with the
      // existing one and skips the write when nothing changes (affected rows
      // 0, no binlog event), which is exact where `IF(NOT (c <=> VALUES(c)),
      // ...)` would follow the collation and keep 'ABC' for 'abc'. (A bare
      // column on the right-hand side would also be ambiguous with the
      // source table's column of the same name.)
      std::vector<std::string> columns, values, updates;
      for (const MysqlAssignment& a : m.assignments) {
        columns.push_back(a.column);
        values.push_back(absl::StrCat("(", a.expression, ")"));
        bool is_key = false;
        for (const std::string& c : m.conflict_columns)
          is_key |= (c == a.column);
        if (!is_key)
          updates.push_back(
              absl::StrCat(a.column, " = VALUES(", a.column, ")"));
      }
      if (updates.empty()) {
        // Only key columns: nothing to update; a no-op assignment keeps the
        // statement valid without IGNORE (which would hide real errors).
        const std::string k =
            absl::StrCat(m.target.ref, ".", m.conflict_columns[0]);
        updates.push_back(absl::StrCat(k, " = ", k));
      }
      return absl::StrCat("INSERT INTO ", m.target.qualified, " (",
                          absl::StrJoin(columns, ", "), ") SELECT ",
                          absl::StrJoin(values, ", "), " FROM ",
                          m.source->qualified, " WHERE ",
                          KeyRange(m, m.source->ref, lower, upper), Where(m),
                          " LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE ",
                          absl::StrJoin(updates, ", "));
    }
  }
  return "";
}

std::string VerifySql(const MysqlChunkModel& m, const KeyLiterals* lower,
                      const KeyLiterals& upper, int64_t limit) {
  const std::string tail = absl::StrCat(" LIMIT ", std::max<int64_t>(limit, 1));
  switch (m.shape) {
    case Shape::kColumn:
    case Shape::kJoin: {
      // Key columns qualified: in a join both tables may have them.
      const std::vector<std::string> keys = KeyRefs(m, m.target.ref);
      std::vector<std::string> select;
      for (size_t i = 0; i < keys.size(); ++i) {
        select.push_back(KeySelect(m.key_kinds[i], keys[i]));
      }
      std::string from = m.target.qualified;
      if (m.shape == Shape::kJoin) {
        absl::StrAppend(&from, " JOIN ", m.source->qualified, " ON (", m.on,
                        ")");
      }
      return absl::StrCat("SELECT ", absl::StrJoin(select, ", "),
                          ", count(*) OVER (), 0 FROM ", from, " WHERE ",
                          KeyRange(m, m.target.ref, lower, upper), Where(m),
                          " AND ", Guard(m, /*cast=*/true), " ORDER BY ",
                          absl::StrJoin(keys, ", "), tail);
    }
    case Shape::kCopy: {
      // Expressions are evaluated over the source alone (in `bf_src`), so a
      // column name present in both tables is never ambiguous. Target rows
      // are matched on the primary key with `=`, under its collation, as
      // ON DUPLICATE KEY matches them.
      std::vector<std::string> select, keys, join, equal;
      for (size_t i = 0; i < m.key_columns.size(); ++i) {
        select.push_back(
            absl::StrCat(m.source->ref, ".", m.key_columns[i], " AS bf_k", i));
        keys.push_back(absl::StrCat("bf_src.bf_k", i));
      }
      for (size_t i = 0; i < m.assignments.size(); ++i) {
        const MysqlAssignment& a = m.assignments[i];
        select.push_back(absl::StrCat("(", a.expression, ") AS bf_c", i));
        const std::string value = absl::StrCat("bf_src.bf_c", i);
        const std::string column = absl::StrCat("bf_t.", a.column);
        bool is_key = false;
        for (const std::string& c : m.conflict_columns)
          is_key |= (c == a.column);
        if (is_key) {
          join.push_back(absl::StrCat(column, " = ", value));
        } else {
          equal.push_back(Equal(a, column, value, /*cast=*/true));
        }
      }
      const std::string missing =
          absl::StrCat("bf_t.", m.conflict_columns[0], " IS NULL");
      std::vector<std::string> key_select;
      for (size_t i = 0; i < keys.size(); ++i) {
        key_select.push_back(KeySelect(m.key_kinds[i], keys[i]));
      }
      std::string differs = missing;
      if (!equal.empty()) {
        absl::StrAppend(&differs, " OR NOT (", absl::StrJoin(equal, " AND "),
                        ")");
      }
      return absl::StrCat(
          "WITH bf_src AS (SELECT ", absl::StrJoin(select, ", "), " FROM ",
          m.source->qualified, " WHERE ",
          KeyRange(m, m.source->ref, lower, upper), Where(m), ") SELECT ",
          absl::StrJoin(key_select, ", "), ", count(*) OVER (), sum(CASE WHEN ",
          missing, " THEN 1 ELSE 0 END) OVER () FROM bf_src LEFT JOIN ",
          m.target.qualified, " AS bf_t ON ", absl::StrJoin(join, " AND "),
          " WHERE ", differs, " ORDER BY ", absl::StrJoin(keys, ", "), tail);
    }
  }
  return "";
}

std::optional<int64_t> CopyRowsWritten(uint64_t affected_rows,
                                       absl::string_view info) {
  // "Records: 100  Duplicates: 40  Warnings: 0"
  size_t at = info.find("Duplicates:");
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(info.substr(at + 11));
  size_t end = 0;
  while (end < rest.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(rest[end]))) {
    ++end;
  }
  uint64_t duplicates = 0;
  if (!absl::SimpleAtoi(rest.substr(0, end), &duplicates) ||
      duplicates > affected_rows) {
    return std::nullopt;
  }
  return static_cast<int64_t>(affected_rows - duplicates);
}

}  // namespace backfill::mysql
