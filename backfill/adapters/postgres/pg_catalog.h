#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_CATALOG_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_CATALOG_H_

#include "absl/status/statusor.h"
#include "backfill/adapters/postgres/pg_sql.h"
#include "backfill/engine/job_spec.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace backfill::pg {

// Resolves `spec` against the PostgreSQL catalog through `tx`: the tables
// exist and are tables, the assigned columns exist (and are not generated),
// the walked key is the primary key (or --key) and NOT NULL, the copy target
// has a primary key covered by --columns, and the session may read the source
// and write the target. Returns the model to render statements from, or:
//   kNotFound            a table or column that does not exist
//   kFailedPrecondition  no primary key, a nullable key, a view
//   kInvalidArgument     a spec that does not fit the tables
//   kPermissionDenied    missing SELECT/UPDATE/INSERT privilege
// Database errors propagate as libpqxx exceptions. Reads only.
absl::StatusOr<PgChunkModel> ResolveChunkModel(pqxx::transaction_base& tx,
                                               const JobSpec& spec);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_CATALOG_H_
