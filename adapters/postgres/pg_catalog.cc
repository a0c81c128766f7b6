#include "adapters/postgres/pg_catalog.h"

#include <pqxx/pqxx>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace backfill::pg {
namespace {

struct ColumnMeta {
  std::string type;
  bool not_null = false;
  bool generated = false;
};

struct TableMeta {
  std::string display;  // as the user named it, for messages
  std::string oid;
  PgTable table;
  std::map<std::string, ColumnMeta> columns;
  std::vector<std::string> primary_key;  // real names, in key order
};

absl::StatusOr<TableMeta> ResolveTable(pqxx::transaction_base& tx,
                                       const TableName& name) {
  TableMeta meta;
  meta.display = name.ToString();
  meta.table = MakePgTable(name);
  pqxx::result r = tx.exec_params(
      "SELECT c.oid::text, c.relkind::text FROM pg_class c "
      "WHERE c.oid = to_regclass($1)",
      meta.table.qualified);
  if (r.empty()) {
    return absl::NotFoundError(
        absl::StrCat("table \"", meta.display, "\" does not exist"));
  }
  meta.oid = r[0][0].c_str();
  const std::string kind = r[0][1].c_str();
  if (kind != "r" && kind != "p") {
    return absl::FailedPreconditionError(
        absl::StrCat("\"", meta.display, "\" is not a table"));
  }
  for (const pqxx::row& c : tx.exec_params(
           "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
           "attgenerated <> '' FROM pg_attribute WHERE attrelid = $1::oid "
           "AND attnum > 0 AND NOT attisdropped",
           meta.oid)) {
    meta.columns[c[0].c_str()] =
        ColumnMeta{c[1].c_str(), c[2].as<bool>(), c[3].as<bool>()};
  }
  for (const pqxx::row& k : tx.exec_params(
           "SELECT a.attname FROM pg_index i "
           "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
           "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
           "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord",
           meta.oid)) {
    meta.primary_key.push_back(k[0].c_str());
  }
  return meta;
}

absl::Status RequirePrivilege(pqxx::transaction_base& tx, const TableMeta& t,
                              const char* privilege) {
  if (tx.exec_params("SELECT has_table_privilege($1::oid, $2)", t.oid, privilege)[0][0]
          .as<bool>()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "permission denied: this user lacks ", privilege, " on \"", t.display, "\""));
}

absl::Status NoColumn(const std::string& column, const TableMeta& t) {
  return absl::NotFoundError(absl::StrCat("column \"", column,
                                          "\" does not exist in table \"",
                                          t.display, "\""));
}

}  // namespace

absl::StatusOr<PgChunkModel> ResolveChunkModel(pqxx::transaction_base& tx,
                                               const JobSpec& spec) {
  absl::StatusOr<TableMeta> target = ResolveTable(tx, spec.table);
  if (!target.ok()) return target.status();
  std::optional<TableMeta> source;
  if (spec.source.has_value()) {
    absl::StatusOr<TableMeta> s = ResolveTable(tx, *spec.source);
    if (!s.ok()) return s.status();
    source = *std::move(s);
  }
  const TableMeta& walked = spec.shape == Shape::kCopy ? *source : *target;

  PgChunkModel m;
  m.shape = spec.shape;
  m.target = target->table;
  if (source.has_value()) m.source = source->table;
  m.walked = walked.table;
  m.on = spec.on;
  m.where = spec.where;

  const std::vector<std::string>& key = spec.key.empty() ? walked.primary_key : spec.key;
  if (key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table \"", walked.display,
        "\" has no primary key; give --key COLS naming NOT NULL, indexed columns"));
  }
  for (const std::string& k : key) {
    auto it = walked.columns.find(k);
    if (it == walked.columns.end()) return NoColumn(k, walked);
    if (!it->second.not_null) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key column \"", k, "\" of \"", walked.display, "\" is nullable"));
    }
    m.key_columns.push_back(QuoteIdent(k));
    m.key_types.push_back(it->second.type);
  }

  for (const Assignment& a : spec.assignments) {
    auto it = target->columns.find(a.column);
    if (it == target->columns.end()) return NoColumn(a.column, *target);
    if (it->second.generated) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column \"", a.column, "\" of \"", target->display, "\" is generated"));
    }
    std::string expression;
    if (a.expression.has_value()) {
      expression = *a.expression;
    } else {
      if (!source->columns.contains(a.column)) return NoColumn(a.column, *source);
      expression = QuoteIdent(a.column);
    }
    m.assignments.push_back(PgAssignment{QuoteIdent(a.column), it->second.type,
                                         std::move(expression)});
  }

  if (spec.shape == Shape::kCopy) {
    if (target->primary_key.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "table \"", target->display,
          "\" has no primary key to detect rows already copied"));
    }
    for (const std::string& k : target->primary_key) {
      bool assigned = false;
      for (const Assignment& a : spec.assignments) assigned |= a.column == k;
      if (!assigned) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--columns must include \"", k, "\", the primary key of \"",
            target->display, "\""));
      }
      m.conflict_columns.push_back(QuoteIdent(k));
    }
    if (absl::Status s = RequirePrivilege(tx, *target, "INSERT"); !s.ok()) return s;
  }
  if (absl::Status s = RequirePrivilege(tx, *target, "UPDATE"); !s.ok()) return s;
  if (source.has_value()) {
    if (absl::Status s = RequirePrivilege(tx, *source, "SELECT"); !s.ok()) return s;
  }
  return m;
}

}  // namespace backfill::pg
