#include "backfill/adapters/database_factory.h"

#include "absl/status/status.h"
#include "backfill/adapters/mysql/mysql_database.h"
#include "backfill/adapters/postgres/postgres_database.h"

namespace backfill {

absl::StatusOr<std::unique_ptr<Database>> ConnectDatabase(
    const ConnectOptions& options) {
  absl::StatusOr<Dsn> dsn = ParseDsn(options.dsn);
  if (!dsn.ok()) return dsn.status();
  switch (dsn->kind) {
    case DatabaseKind::kPostgres:
      return OpenPostgres(*dsn, options);
    case DatabaseKind::kMysql:
      return OpenMysql(*dsn, options);
  }
  return absl::InvalidArgumentError("unknown database kind");
}

}  // namespace backfill
