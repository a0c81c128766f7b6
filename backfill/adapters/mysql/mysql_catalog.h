#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_CATALOG_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_CATALOG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/adapters/mysql/mysql_sql.h"
#include "backfill/engine/job_spec.h"

namespace backfill::mysql {

// One result row, each field as text; nullopt for SQL NULL.
using SqlRow = std::vector<std::optional<std::string>>;

// What catalog resolution needs from a connection, so that this file stays
// free of the client library. Not thread-safe, like the connection.
class SqlSession {
 public:
  virtual ~SqlSession() = default;
  // Runs one statement and returns its rows; errors already mapped
  // (mysql_errors.h), with `context` leading the message.
  virtual absl::StatusOr<std::vector<SqlRow>> Query(
      const std::string& sql, absl::string_view context) = 0;
  // `value` as a string literal for this session (QuoteString with the
  // session's NO_BACKSLASH_ESCAPES setting).
  virtual std::string Literal(absl::string_view value) const = 0;
};

// Resolves `spec` against information_schema through `session`: the tables
// exist, are BASE TABLEs and use InnoDB (whose transactions let a chunk
// commit with its checkpoint), the assigned columns exist and are not
// generated, the walked key is the primary key (or --key), NOT NULL and of a
// type that can be walked exactly, and the copy target has a primary key
// covered by --columns. Column names match case-insensitively, as MySQL's
// do; table names follow the server's lower_case_table_names. Returns the
// model to render statements from, or:
//   kNotFound            a table or column that does not exist
//   kFailedPrecondition  no primary key, a nullable key, a view, a
//                        non-InnoDB table, a key type that cannot be walked
//   kInvalidArgument     a spec that does not fit the tables
// or the error of a catalog query. Privileges are not read here: the
// adapter's EXPLAIN of each chunk statement checks them. Reads only.
absl::StatusOr<MysqlChunkModel> ResolveChunkModel(SqlSession& session,
                                                  const JobSpec& spec);

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_CATALOG_H_
