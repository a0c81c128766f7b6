#include "backfill/adapters/postgres/pg_catalog.h"

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/schema_check.h"

namespace backfill::pg {
namespace {

struct Table {
  PgTable table;
  TableFacts facts;
};

// The facts of table `name` (CheckSchema), or kNotFound / kFailedPrecondition
// when it does not exist or is not a table.
absl::StatusOr<Table> ReadTable(pqxx::transaction_base& tx,
                                const TableName& name) {
  Table t;
  t.facts.display = name.ToString();
  t.table = MakePgTable(name);
  pqxx::result r = tx.exec_params(
      "SELECT c.oid::text, c.relkind::text, "
      "has_table_privilege(c.oid, 'SELECT'), "
      "has_table_privilege(c.oid, 'UPDATE'), "
      "has_table_privilege(c.oid, 'INSERT') "
      "FROM pg_class c WHERE c.oid = to_regclass($1)",
      t.table.qualified);
  if (r.empty()) {
    return absl::NotFoundError(
        absl::StrCat("table \"", t.facts.display, "\" does not exist"));
  }
  const std::string oid = r[0][0].c_str();
  const std::string kind = r[0][1].c_str();
  if (kind != "r" && kind != "p") {
    return absl::FailedPreconditionError(
        absl::StrCat("\"", t.facts.display, "\" is not a table"));
  }
  t.facts.can_select = r[0][2].as<bool>();
  t.facts.can_update = r[0][3].as<bool>();
  t.facts.can_insert = r[0][4].as<bool>();
  for (const pqxx::row& c : tx.exec_params(
           "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
           "attgenerated <> '' FROM pg_attribute WHERE attrelid = $1::oid "
           "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
           oid)) {
    t.facts.columns.push_back(ColumnFacts{c[0].c_str(), c[1].c_str(),
                                          c[2].as<bool>(), c[3].as<bool>()});
  }
  for (const pqxx::row& k : tx.exec_params(
           "SELECT a.attname FROM pg_index i "
           "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, "
           "ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum "
           "= k.attnum WHERE i.indrelid = $1::oid AND i.indisprimary ORDER "
           "BY k.ord",
           oid)) {
    t.facts.primary_key.push_back(k[0].c_str());
  }
  return t;
}

}  // namespace

absl::StatusOr<PgChunkModel> ResolveChunkModel(pqxx::transaction_base& tx,
                                               const JobSpec& spec) {
  std::optional<Table> target;
  std::optional<Table> source;
  absl::StatusOr<SchemaMatch> match = ReadAndCheckSchema(
      spec, NameRule::kExact,
      [&](const TableName& name) { return ReadTable(tx, name); }, &target,
      &source);
  if (!match.ok()) return match.status();

  PgChunkModel m;
  m.shape = spec.shape;
  m.target = target->table;
  if (source.has_value()) m.source = source->table;
  m.walked = spec.shape == Shape::kCopy ? source->table : target->table;
  m.on = spec.on;
  m.where = spec.where;
  for (const ColumnFacts* k : match->key) {
    m.key_columns.push_back(QuoteIdent(k->name));
    m.key_types.push_back(k->type);
  }
  for (size_t i = 0; i < spec.assignments.size(); ++i) {
    const Assignment& a = spec.assignments[i];
    const ColumnFacts* c = match->assigned[i];
    m.assignments.push_back(PgAssignment{
        QuoteIdent(c->name), c->type,
        a.expression.has_value() ? *a.expression
                                 : QuoteIdent(match->copied[i]->name)});
  }
  for (const std::string& k : match->conflict) {
    m.conflict_columns.push_back(QuoteIdent(k));
  }
  return m;
}

}  // namespace backfill::pg
