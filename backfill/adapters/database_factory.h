#ifndef BACKFILL_ADAPTERS_DATABASE_FACTORY_H_
#define BACKFILL_ADAPTERS_DATABASE_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backfill/engine/database.h"
#include "backfill/engine/dsn.h"

namespace backfill {

// Opens a connection to the database named by `options.dsn`, choosing the
// adapter from the URI scheme (postgresql:// or mysql://). Fails with
// kInvalidArgument for a malformed DSN, kUnavailable when the server cannot
// be reached, kUnauthenticated for a rejected password, kNotFound for a
// missing database. Error messages never contain the password.
absl::StatusOr<std::unique_ptr<Database>> ConnectDatabase(
    const ConnectOptions& options);

}  // namespace backfill

#endif  // BACKFILL_ADAPTERS_DATABASE_FACTORY_H_
