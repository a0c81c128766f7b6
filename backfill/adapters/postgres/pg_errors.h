#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_ERRORS_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_ERRORS_H_

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace backfill::pg {

// The one place libpqxx exceptions become absl::Status. The code carries the
// retry policy (see backfill/engine/database.h):
//   class 08, 57P01-57P03, 40003, broken_connection,
//   in_doubt_error, statement_completion_unknown,
//   25006 (read-only: the primary moved)                      -> kUnavailable
//   40001, 40P01, 55P03 (lock_timeout), 57014 (canceled)     -> kAborted
//   53100 (disk full; the message says so first)     -> kResourceExhausted
//   28xxx, failed password at connect                        ->
//   kUnauthenticated 42501 -> kPermissionDenied 42P01, 42703, 42883, 3D000,
//   3F000                         -> kNotFound other class 42 and class 22 ->
//   kInvalidArgument anything else -> kInternal
// The message is `context: <server message>` on one line, with `secret`
// (the connection password) scrubbed out.
absl::Status MapPgError(const std::exception& e, absl::string_view context,
                        absl::string_view secret);

// The status code for a SQLSTATE, exposed for tests.
absl::StatusCode CodeForSqlState(absl::string_view sqlstate);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_ERRORS_H_
