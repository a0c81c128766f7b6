#ifndef BACKFILL_ADAPTERS_POSTGRES_POSTGRES_DATABASE_H_
#define BACKFILL_ADAPTERS_POSTGRES_POSTGRES_DATABASE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backfill/engine/database.h"
#include "backfill/engine/dsn.h"

namespace backfill {

// Connects to PostgreSQL through libpqxx. `dsn` must be a postgres kind.
// A password comes from, in order: `options.password`, the DSN, PGPASSWORD
// (read by libpq). Fails with kUnavailable (unreachable), kUnauthenticated
// (bad password) or kNotFound (no such database); messages never hold the
// password.
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const Dsn& dsn, const ConnectOptions& options);

}  // namespace backfill

#endif  // BACKFILL_ADAPTERS_POSTGRES_POSTGRES_DATABASE_H_
