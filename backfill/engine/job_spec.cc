#include "backfill/engine/job_spec.h"

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/sql_fragment.h"

namespace backfill {

absl::string_view ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kColumn:
      return "column";
    case Shape::kJoin:
      return "join";
    case Shape::kCopy:
      return "copy";
  }
  return "unknown";
}

std::string TableName::ToString() const {
  return schema.empty() ? name : absl::StrCat(schema, ".", name);
}

const TableName& JobSpec::walked_table() const {
  return shape == Shape::kCopy && source.has_value() ? *source : table;
}

absl::StatusOr<TableName> ParseTableName(absl::string_view text,
                                         absl::string_view what) {
  std::vector<std::string> parts = SplitTopLevel(text, '.');
  if (parts.empty() || parts.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", text, "\": expected a table name or schema.table"));
  }
  TableName table;
  absl::StatusOr<std::string> name = UnquoteIdentifier(parts.back(), what);
  if (!name.ok()) return name.status();
  table.name = *std::move(name);
  if (parts.size() == 2) {
    absl::StatusOr<std::string> schema = UnquoteIdentifier(parts[0], what);
    if (!schema.ok()) return schema.status();
    table.schema = *std::move(schema);
  }
  return table;
}

absl::StatusOr<Assignment> ParseAssignment(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`sets` \"", text, "\": expected \"column = expression\""));
  }
  absl::StatusOr<std::string> column =
      UnquoteIdentifier(text.substr(0, eq), "`sets` column");
  if (!column.ok()) return column.status();
  std::string expression(absl::StripAsciiWhitespace(text.substr(eq + 1)));
  if (absl::Status s = CheckSqlFragment(expression, "`sets` expression");
      !s.ok()) {
    return s;
  }
  return Assignment{*std::move(column), std::move(expression)};
}

absl::StatusOr<std::vector<Assignment>> ParseColumnList(
    absl::string_view text) {
  std::vector<Assignment> out;
  for (const std::string& item : SplitTopLevel(text, ',')) {
    if (item.find('=') != std::string::npos) {
      absl::StatusOr<Assignment> a = ParseAssignment(item);
      if (!a.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "`columns` item \"", item, "\": ", a.status().message()));
      }
      out.push_back(*std::move(a));
    } else {
      absl::StatusOr<std::string> column =
          UnquoteIdentifier(item, "`columns` item");
      if (!column.ok()) return column.status();
      out.push_back(Assignment{*std::move(column), std::nullopt});
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("`columns` is empty");
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseKeyColumns(
    absl::string_view text) {
  std::vector<std::string> out;
  for (const std::string& item : SplitTopLevel(text, ',')) {
    absl::StatusOr<std::string> column =
        UnquoteIdentifier(item, "`key` column");
    if (!column.ok()) return column.status();
    out.push_back(*std::move(column));
  }
  if (out.empty()) return absl::InvalidArgumentError("`key` is empty");
  return out;
}

absl::Status ValidateJobSpec(const JobSpec& spec) {
  auto bad = [](absl::string_view msg) {
    return absl::InvalidArgumentError(msg);
  };
  if (spec.table.name.empty()) return bad("no table given");
  switch (spec.shape) {
    case Shape::kColumn:
      if (spec.source.has_value())
        return bad("the column shape takes no `from`");
      if (!spec.on.empty()) return bad("`on` needs `from` (the join shape)");
      break;
    case Shape::kJoin:
      if (!spec.source.has_value()) return bad("the join shape needs `from`");
      if (spec.on.empty()) return bad("the join shape needs `on` \"COND\"");
      break;
    case Shape::kCopy:
      if (!spec.source.has_value()) return bad("the copy shape needs `from`");
      if (!spec.on.empty()) return bad("the copy shape takes no `on`");
      if (*spec.source == spec.table) {
        return bad("the copy shape needs `from` and `into` to differ");
      }
      break;
  }
  if (spec.assignments.empty()) {
    return bad(spec.shape == Shape::kCopy
                   ? "the copy shape needs `columns`"
                   : "nothing to set: give `sets` \"col = expr\"");
  }
  std::set<std::string> seen;
  for (const Assignment& a : spec.assignments) {
    if (!seen.insert(a.column).second) {
      return bad(absl::StrCat("column \"", a.column, "\" is assigned twice"));
    }
    if (a.expression.has_value()) {
      if (absl::Status s = CheckSqlFragment(
              *a.expression, absl::StrCat("expression for ", a.column));
          !s.ok()) {
        return s;
      }
    } else if (spec.shape != Shape::kCopy) {
      return bad(absl::StrCat("column \"", a.column, "\" has no expression"));
    }
  }
  if (!spec.on.empty()) {
    if (absl::Status s = CheckSqlFragment(spec.on, "`on`"); !s.ok()) return s;
  }
  if (!spec.where.empty()) {
    if (absl::Status s = CheckSqlFragment(spec.where, "`where`"); !s.ok())
      return s;
  }
  for (const std::string& k : spec.key) {
    if (k.empty()) return bad("`key` has an empty column name");
  }
  return absl::OkStatus();
}

namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

// The copy shape's tables and columns.
absl::Status ParseCopyText(const JobText& text, JobSpec* spec) {
  spec->shape = Shape::kCopy;
  if (!text.table.empty()) {
    return Bad(
        "`table` and `into` exclude each other: copy takes `from` OLD "
        "`into` NEW");
  }
  if (text.from.empty()) return Bad("`into` needs `from` OLD");
  if (!text.sets.empty())
    return Bad("the copy shape takes `columns`, not `sets`");
  absl::StatusOr<TableName> into = ParseTableName(text.into, "`into`");
  if (!into.ok()) return into.status();
  spec->table = *std::move(into);
  absl::StatusOr<TableName> from = ParseTableName(text.from, "`from`");
  if (!from.ok()) return from.status();
  spec->source = *std::move(from);
  if (text.columns.empty()) {
    return Bad("the copy shape needs `columns` \"a, b, c = expr\"");
  }
  absl::StatusOr<std::vector<Assignment>> columns =
      ParseColumnList(text.columns);
  if (!columns.ok()) return columns.status();
  spec->assignments = *std::move(columns);
  return absl::OkStatus();
}

// The column and join shapes' tables and assignments.
absl::Status ParseUpdateText(const JobText& text, JobSpec* spec) {
  if (text.table.empty()) {
    return Bad(
        "no table: give `table` T (column, join) or `from` OLD `into` "
        "NEW (copy)");
  }
  if (!text.columns.empty()) {
    return Bad("`columns` belongs to the copy shape (`into`)");
  }
  absl::StatusOr<TableName> table = ParseTableName(text.table, "`table`");
  if (!table.ok()) return table.status();
  spec->table = *std::move(table);
  spec->shape = text.from.empty() ? Shape::kColumn : Shape::kJoin;
  if (!text.from.empty()) {
    absl::StatusOr<TableName> from = ParseTableName(text.from, "`from`");
    if (!from.ok()) return from.status();
    spec->source = *std::move(from);
  }
  for (const std::string& set : text.sets) {
    absl::StatusOr<Assignment> a = ParseAssignment(set);
    if (!a.ok()) return a.status();
    spec->assignments.push_back(*std::move(a));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JobSpec> ParseJobText(const JobText& text) {
  JobSpec spec;
  spec.job = text.job;
  if (absl::Status s = text.into.empty() ? ParseUpdateText(text, &spec)
                                         : ParseCopyText(text, &spec);
      !s.ok()) {
    return s;
  }
  spec.on = text.on;
  spec.where = text.where;
  if (!text.key.empty()) {
    absl::StatusOr<std::vector<std::string>> key = ParseKeyColumns(text.key);
    if (!key.ok()) return key.status();
    spec.key = *std::move(key);
  }
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
  return spec;
}

std::string DefaultJobName(const JobSpec& spec) {
  return spec.table.ToString();
}

namespace {

// An identifier in DescribeJobSpec: as is when it is a plain name, else
// "quoted" with " doubled, so that a table named "a.b" and table b of schema a
// (or a key column named "a, b" and key columns a and b) describe, and so
// fingerprint, differently. Plain names keep their existing fingerprints.
std::string DescribeIdent(absl::string_view name) {
  bool plain = !name.empty() && !absl::ascii_isdigit(name[0]);
  for (char c : name) plain &= absl::ascii_isalnum(c) || c == '_' || c == '$';
  if (plain) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string DescribeTable(const TableName& t) {
  return t.schema.empty() ? DescribeIdent(t.name)
                          : absl::StrCat(DescribeIdent(t.schema), ".",
                                         DescribeIdent(t.name));
}

}  // namespace

std::string DescribeJobSpec(const JobSpec& spec) {
  std::string out(ShapeName(spec.shape));
  if (spec.shape == Shape::kCopy) {
    absl::StrAppend(&out, " from ", DescribeTable(*spec.source), " into ",
                    DescribeTable(spec.table), " columns ");
  } else {
    absl::StrAppend(&out, " ", DescribeTable(spec.table));
    if (spec.source.has_value()) {
      absl::StrAppend(&out, " from ", DescribeTable(*spec.source), " on (",
                      spec.on, ")");
    }
    absl::StrAppend(&out, " set ");
  }
  absl::StrAppend(
      &out, absl::StrJoin(spec.assignments, ", ",
                          [](std::string* o, const Assignment& a) {
                            absl::StrAppend(o, DescribeIdent(a.column));
                            if (a.expression.has_value()) {
                              absl::StrAppend(o, " = (", *a.expression, ")");
                            }
                          }));
  if (!spec.where.empty()) absl::StrAppend(&out, " where (", spec.where, ")");
  if (!spec.key.empty()) {
    std::vector<std::string> key;
    for (const std::string& k : spec.key) key.push_back(DescribeIdent(k));
    absl::StrAppend(&out, " key (", absl::StrJoin(key, ", "), ")");
  }
  return out;
}

std::string FingerprintJobSpec(const JobSpec& spec) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : DescribeJobSpec(spec)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrFormat("%016x", h);
}

}  // namespace backfill
