#include "backfill/adapters/postgres/pg_sql.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace backfill::pg {
namespace {

// "(a, b)" for several columns, "a" for one.
std::string Tuple(const std::vector<std::string>& items) {
  if (items.size() == 1) return items[0];
  return absl::StrCat("(", absl::StrJoin(items, ", "), ")");
}

// Key columns, optionally qualified by a table reference.
std::vector<std::string> KeyRefs(const PgChunkModel& m,
                                 absl::string_view qualifier) {
  std::vector<std::string> out;
  for (const std::string& k : m.key_columns) {
    out.push_back(qualifier.empty() ? k : absl::StrCat(qualifier, ".", k));
  }
  return out;
}

// "($n::t1, $n+1::t2)" starting at parameter *next, which is advanced.
std::string Params(const PgChunkModel& m, int* next) {
  std::vector<std::string> out;
  for (const std::string& type : m.key_types) {
    out.push_back(absl::StrCat("$", (*next)++, "::", type));
  }
  return Tuple(out);
}

// The key range predicate: [key > lower AND] key <= upper. A row comparison
// on the key columns, which PostgreSQL answers from the key's index.
std::string Range(const PgChunkModel& m, absl::string_view qualifier,
                  bool has_lower, int* next) {
  const std::string key = Tuple(KeyRefs(m, qualifier));
  std::string out;
  if (has_lower) absl::StrAppend(&out, key, " > ", Params(m, next), " AND ");
  absl::StrAppend(&out, key, " <= ", Params(m, next));
  return out;
}

std::string Where(const PgChunkModel& m) {
  return m.where.empty() ? "" : absl::StrCat(" AND (", m.where, ")");
}

// (t.c1 IS DISTINCT FROM CAST((e1) AS type1) OR ...): true only for rows the
// write would change, so unchanged rows are neither rewritten nor counted.
std::string ColumnGuard(const PgChunkModel& m) {
  std::vector<std::string> parts;
  for (const PgAssignment& a : m.assignments) {
    parts.push_back(absl::StrCat(m.target.ref, ".", a.column,
                                 " IS DISTINCT FROM CAST((", a.expression,
                                 ") AS ", a.type, ")"));
  }
  return absl::StrCat("(", absl::StrJoin(parts, " OR "), ")");
}

std::string SetList(const PgChunkModel& m) {
  return absl::StrJoin(
      m.assignments, ", ", [](std::string* o, const PgAssignment& a) {
        absl::StrAppend(o, a.column, " = (", a.expression, ")");
      });
}

std::string Boundary(const PgChunkModel& m, bool has_lower) {
  int next = 1;
  std::string range = Range(m, "", has_lower, &next);
  return absl::StrCat("SELECT ", absl::StrJoin(m.key_columns, ", "), " FROM ",
                      m.walked.qualified, " WHERE ", range, " ORDER BY ",
                      absl::StrJoin(m.key_columns, ", "), " LIMIT 1 OFFSET $",
                      next);
}

std::string Count(const PgChunkModel& m, bool has_lower) {
  int next = 1;
  return absl::StrCat("SELECT count(*) FROM ", m.walked.qualified, " WHERE ",
                      Range(m, "", has_lower, &next));
}

std::string Lock(const PgChunkModel& m, bool has_lower) {
  int next = 1;
  switch (m.shape) {
    case Shape::kColumn:
      return "";  // the UPDATE locks (and re-reads) the very rows it reads
    case Shape::kJoin:
      return absl::StrCat("SELECT count(*) FROM (SELECT 1 FROM ",
                          m.target.qualified, " JOIN ", m.source->qualified,
                          " ON (", m.on, ") WHERE ",
                          Range(m, m.target.ref, has_lower, &next), Where(m),
                          " FOR SHARE OF ", m.source->ref, ") AS locked");
    case Shape::kCopy:
      return absl::StrCat("SELECT count(*) FROM (SELECT 1 FROM ",
                          m.source->qualified, " WHERE ",
                          Range(m, m.source->ref, has_lower, &next), Where(m),
                          " FOR SHARE) AS locked");
  }
  return "";
}

std::string Write(const PgChunkModel& m, bool has_lower) {
  int next = 1;
  switch (m.shape) {
    case Shape::kColumn:
      return absl::StrCat("UPDATE ", m.target.qualified, " SET ", SetList(m),
                          " WHERE ", Range(m, m.target.ref, has_lower, &next),
                          Where(m), " AND ", ColumnGuard(m));
    case Shape::kJoin:
      return absl::StrCat("UPDATE ", m.target.qualified, " SET ", SetList(m),
                          " FROM ", m.source->qualified, " WHERE (", m.on,
                          ") AND ", Range(m, m.target.ref, has_lower, &next),
                          Where(m), " AND ", ColumnGuard(m));
    case Shape::kCopy: {
      std::vector<std::string> columns, values, updates, changed;
      for (const PgAssignment& a : m.assignments) {
        columns.push_back(a.column);
        values.push_back(absl::StrCat("(", a.expression, ")"));
        bool is_key = false;
        for (const std::string& c : m.conflict_columns)
          is_key |= (c == a.column);
        if (is_key) continue;
        updates.push_back(absl::StrCat(a.column, " = EXCLUDED.", a.column));
        changed.push_back(absl::StrCat(m.target.ref, ".", a.column,
                                       " IS DISTINCT FROM EXCLUDED.",
                                       a.column));
      }
      std::string out = absl::StrCat(
          "INSERT INTO ", m.target.qualified, " (",
          absl::StrJoin(columns, ", "), ") SELECT ",
          absl::StrJoin(values, ", "), " FROM ", m.source->qualified, " WHERE ",
          Range(m, m.source->ref, has_lower, &next), Where(m), " ON CONFLICT (",
          absl::StrJoin(m.conflict_columns, ", "), ") DO ");
      if (updates.empty()) {
        absl::StrAppend(&out, "NOTHING");
      } else {
        absl::StrAppend(&out, "UPDATE SET ", absl::StrJoin(updates, ", "),
                        " WHERE ", absl::StrJoin(changed, " OR "));
      }
      return out;
    }
  }
  return "";
}

// Rows of the chunk that differ from what the spec computes: the negation of
// the write's guard (copy: also rows missing from the target).
std::string Verify(const PgChunkModel& m, bool has_lower) {
  int next = 1;
  const std::string order = absl::StrJoin(KeyRefs(m, m.walked.ref), ", ");
  const std::string tail = " LIMIT $";
  switch (m.shape) {
    case Shape::kColumn: {
      std::string range = Range(m, m.target.ref, has_lower, &next);
      return absl::StrCat("SELECT ", order, ", count(*) OVER (), 0 FROM ",
                          m.target.qualified, " WHERE ", range, Where(m),
                          " AND ", ColumnGuard(m), " ORDER BY ", order, tail,
                          next);
    }
    case Shape::kJoin: {
      std::string range = Range(m, m.target.ref, has_lower, &next);
      return absl::StrCat("SELECT ", order, ", count(*) OVER (), 0 FROM ",
                          m.target.qualified, " JOIN ", m.source->qualified,
                          " ON (", m.on, ") WHERE ", range, Where(m), " AND ",
                          ColumnGuard(m), " ORDER BY ", order, tail, next);
    }
    case Shape::kCopy: {
      // Expressions are evaluated over the source alone (in `src`), so a
      // column name present in both tables is never ambiguous.
      std::vector<std::string> select, keys, join, differs;
      for (size_t i = 0; i < m.key_columns.size(); ++i) {
        select.push_back(
            absl::StrCat(m.source->ref, ".", m.key_columns[i], " AS bf_k", i));
        keys.push_back(absl::StrCat("src.bf_k", i));
      }
      for (size_t i = 0; i < m.assignments.size(); ++i) {
        const PgAssignment& a = m.assignments[i];
        select.push_back(absl::StrCat("(", a.expression, ") AS bf_c", i));
        const std::string value =
            absl::StrCat("CAST(src.bf_c", i, " AS ", a.type, ")");
        const std::string column = absl::StrCat("bf_t.", a.column);
        bool is_key = false;
        for (const std::string& c : m.conflict_columns)
          is_key |= (c == a.column);
        if (is_key) {
          join.push_back(absl::StrCat(column, " = ", value));
        } else {
          differs.push_back(absl::StrCat(column, " IS DISTINCT FROM ", value));
        }
      }
      const std::string missing =
          absl::StrCat("bf_t.", m.conflict_columns[0], " IS NULL");
      differs.insert(differs.begin(), missing);
      std::string range = Range(m, m.source->ref, has_lower, &next);
      const std::string key_order = absl::StrJoin(keys, ", ");
      return absl::StrCat(
          "WITH src AS (SELECT ", absl::StrJoin(select, ", "), " FROM ",
          m.source->qualified, " WHERE ", range, Where(m), ") SELECT ",
          key_order, ", count(*) OVER (), count(*) FILTER (WHERE ", missing,
          ") OVER () FROM src LEFT JOIN ", m.target.qualified, " AS bf_t ON ",
          absl::StrJoin(join, " AND "), " WHERE ",
          absl::StrJoin(differs, " OR "), " ORDER BY ", key_order, tail, next);
    }
  }
  return "";
}

}  // namespace

std::string QuoteIdent(absl::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

PgTable MakePgTable(const TableName& name) {
  PgTable t;
  t.ref = QuoteIdent(name.name);
  t.qualified = name.schema.empty()
                    ? t.ref
                    : absl::StrCat(QuoteIdent(name.schema), ".", t.ref);
  return t;
}

PgStatements RenderPgStatements(const PgChunkModel& m) {
  PgStatements s;
  std::vector<std::string> desc;
  for (const std::string& k : m.key_columns)
    desc.push_back(absl::StrCat(k, " DESC"));
  s.high_water = absl::StrCat("SELECT ", absl::StrJoin(m.key_columns, ", "),
                              " FROM ", m.walked.qualified, " ORDER BY ",
                              absl::StrJoin(desc, ", "), " LIMIT 1");
  s.boundary_first = Boundary(m, false);
  s.boundary_next = Boundary(m, true);
  s.count_first = Count(m, false);
  s.count_next = Count(m, true);
  s.lock_first = Lock(m, false);
  s.lock_next = Lock(m, true);
  s.write_first = Write(m, false);
  s.write_next = Write(m, true);
  s.verify_first = Verify(m, false);
  s.verify_next = Verify(m, true);
  return s;
}

}  // namespace backfill::pg
