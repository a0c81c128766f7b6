#include "backfill/adapters/mysql/mysql_catalog.h"

#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/schema_check.h"

namespace backfill::mysql {
namespace {

constexpr char kContext[] = "cannot read the schema";

// What a statement needs of a column beyond its facts.
struct ColumnExtra {
  std::string data_type;  // information_schema DATA_TYPE, e.g. "varchar"
  std::string charset;    // character columns only
  std::string cast;       // MysqlAssignment::cast
};

struct Table {
  MysqlTable table;
  TableFacts facts;
  std::map<std::string, ColumnExtra> extra;  // by the column's real name
};

std::string Field(const SqlRow& row, size_t i) { return row[i].value_or(""); }

bool IsCharacterType(absl::string_view data_type) {
  for (const char* t : {"char", "varchar", "tinytext", "text", "mediumtext",
                        "longtext", "enum", "set"}) {
    if (data_type == t) return true;
  }
  return false;
}

// Character set names go into CONVERT(... USING cs) unquoted.
bool IsPlainName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  }
  return true;
}

// The CAST target matching a column type, where CAST has one (it has no
// TINYINT, VARCHAR(n), FLOAT(p) ... on both servers).
std::string CastTarget(absl::string_view data_type,
                       absl::string_view column_type,
                       const std::string& precision, const std::string& scale,
                       const std::string& datetime_precision) {
  for (const char* t : {"tinyint", "smallint", "mediumint", "int", "bigint"}) {
    if (data_type == t) {
      return absl::AsciiStrToLower(column_type).find("unsigned") !=
                     std::string::npos
                 ? "UNSIGNED"
                 : "SIGNED";
    }
  }
  auto digits = [](const std::string& s) { return IsPlainName(s) ? s : "0"; };
  if (data_type == "decimal") {
    return absl::StrCat("DECIMAL(", digits(precision), ",", digits(scale), ")");
  }
  if (data_type == "date") return "DATE";
  if (data_type == "datetime" || data_type == "timestamp") {
    return absl::StrCat("DATETIME(", digits(datetime_precision), ")");
  }
  if (data_type == "time")
    return absl::StrCat("TIME(", digits(datetime_precision), ")");
  return "";
}

// The facts of table `name` (CheckSchema), or kNotFound /
// kFailedPrecondition when it does not exist or is not an InnoDB table.
absl::StatusOr<Table> ReadTable(SqlSession& session, const TableName& name,
                                bool case_insensitive_names) {
  Table meta;
  meta.facts.display = name.ToString();
  const std::string schema =
      name.schema.empty() ? "DATABASE()" : session.Literal(name.schema);
  absl::StatusOr<std::vector<SqlRow>> tables = session.Query(
      absl::StrCat("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE "
                   "FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
                   schema, " AND TABLE_NAME = ", session.Literal(name.name)),
      kContext);
  if (!tables.ok()) return tables.status();
  // information_schema compares names case-insensitively; the server does
  // not unless lower_case_table_names is set.
  const SqlRow* found = nullptr;
  for (const SqlRow& row : *tables) {
    const bool exact = Field(row, 1) == name.name &&
                       (name.schema.empty() || Field(row, 0) == name.schema);
    if (exact || (case_insensitive_names && found == nullptr)) found = &row;
  }
  if (found == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("table \"", meta.facts.display, "\" does not exist"));
  }
  const std::string real_schema = Field(*found, 0);
  const std::string real_name = Field(*found, 1);
  if (Field(*found, 2) != "BASE TABLE") {
    return absl::FailedPreconditionError(
        absl::StrCat("\"", meta.facts.display, "\" is not a table (it is a ",
                     absl::AsciiStrToLower(Field(*found, 2)), ")"));
  }
  if (absl::AsciiStrToLower(Field(*found, 3)) != "innodb") {
    return absl::FailedPreconditionError(absl::StrCat(
        "table \"", meta.facts.display, "\" uses the ", Field(*found, 3),
        " engine; backfill needs InnoDB, whose transactions commit each chunk "
        "together with its checkpoint"));
  }
  meta.table = MakeMysqlTable(
      TableName{name.schema.empty() ? "" : real_schema, real_name});

  const std::string where =
      absl::StrCat(" WHERE TABLE_SCHEMA = ", session.Literal(real_schema),
                   " AND TABLE_NAME = ", session.Literal(real_name));
  absl::StatusOr<std::vector<SqlRow>> columns = session.Query(
      absl::StrCat(
          "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, "
          "CHARACTER_SET_NAME, GENERATION_EXPRESSION, NUMERIC_PRECISION, "
          "NUMERIC_SCALE, DATETIME_PRECISION "
          "FROM information_schema.COLUMNS",
          where, " ORDER BY ORDINAL_POSITION"),
      kContext);
  if (!columns.ok()) return columns.status();
  for (const SqlRow& row : *columns) {
    ColumnFacts c;
    ColumnExtra x;
    c.name = Field(row, 0);
    x.data_type = absl::AsciiStrToLower(Field(row, 1));
    c.type = Field(row, 2);
    c.not_null = Field(row, 3) == "NO";
    if (IsCharacterType(x.data_type) && IsPlainName(Field(row, 4))) {
      x.charset = Field(row, 4);
    }
    // NULL on MariaDB and '' on MySQL 8 for ordinary columns. (EXTRA is no
    // help: MySQL 8 says DEFAULT_GENERATED for expression defaults.)
    c.generated = !Field(row, 5).empty();
    c.walkable = KeyKindForDataType(x.data_type).has_value();
    x.cast = CastTarget(x.data_type, c.type, Field(row, 6), Field(row, 7),
                        Field(row, 8));
    meta.extra[c.name] = std::move(x);
    meta.facts.columns.push_back(std::move(c));
  }
  absl::StatusOr<std::vector<SqlRow>> key = session.Query(
      absl::StrCat("SELECT COLUMN_NAME FROM information_schema.STATISTICS",
                   where, " AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"),
      kContext);
  if (!key.ok()) return key.status();
  for (const SqlRow& row : *key) {
    meta.facts.primary_key.push_back(Field(row, 0));
  }
  return meta;
}

}  // namespace

absl::StatusOr<MysqlChunkModel> ResolveChunkModel(SqlSession& session,
                                                  const JobSpec& spec) {
  absl::StatusOr<std::vector<SqlRow>> settings =
      session.Query("SELECT @@lower_case_table_names", kContext);
  if (!settings.ok()) return settings.status();
  const bool case_insensitive_names =
      !settings->empty() && Field(settings->front(), 0) != "0";

  std::optional<Table> target;
  std::optional<Table> source;
  absl::StatusOr<SchemaMatch> match = ReadAndCheckSchema(
      spec, NameRule::kCaseInsensitive,
      [&](const TableName& name) {
        return ReadTable(session, name, case_insensitive_names);
      },
      &target, &source);
  if (!match.ok()) return match.status();
  const Table& walked = spec.shape == Shape::kCopy ? *source : *target;

  MysqlChunkModel m;
  m.shape = spec.shape;
  m.target = target->table;
  if (source.has_value()) m.source = source->table;
  m.walked = walked.table;
  m.on = spec.on;
  m.where = spec.where;
  for (const ColumnFacts* k : match->key) {
    m.key_columns.push_back(QuoteIdent(k->name));
    m.key_kinds.push_back(
        *KeyKindForDataType(walked.extra.at(k->name).data_type));
  }
  for (size_t i = 0; i < spec.assignments.size(); ++i) {
    const Assignment& a = spec.assignments[i];
    const ColumnFacts* c = match->assigned[i];
    const ColumnExtra& x = target->extra.at(c->name);
    m.assignments.push_back(MysqlAssignment{
        QuoteIdent(c->name),
        a.expression.has_value() ? *a.expression
                                 : QuoteIdent(match->copied[i]->name),
        x.charset, x.cast});
  }
  for (const std::string& k : match->conflict) {
    m.conflict_columns.push_back(QuoteIdent(k));
  }
  return m;
}

}  // namespace backfill::mysql
