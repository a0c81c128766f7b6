#ifndef BACKFILL_TESTS_INTEGRATION_PG_TEST_DSN_H_
#define BACKFILL_TESTS_INTEGRATION_PG_TEST_DSN_H_

#include <map>
#include <string>

namespace backfill::testing {

// PostgreSQL connection strings for tests, taken apart and put together by
// libpq (PQconninfoParse), as the engine's adapter does. Throw
// std::runtime_error on a string libpq refuses.

// The parameters `dsn` names (keyword -> value).
std::map<std::string, std::string> PgParams(const std::string& dsn);

// `dsn` with `overrides` applied (an empty value removes the parameter), as
// a postgresql://user:password@host:port/dbname?… URI.
std::string PgUri(const std::string& dsn,
                  const std::map<std::string, std::string>& overrides = {});

// "host:port" of a single-host `dsn`.
std::string PgHostPort(const std::string& dsn);

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_PG_TEST_DSN_H_
