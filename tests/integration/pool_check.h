#ifndef BACKFILL_TESTS_INTEGRATION_POOL_CHECK_H_
#define BACKFILL_TESTS_INTEGRATION_POOL_CHECK_H_

#include <string>

namespace backfill::testing {

// Checks (with gtest EXPECTs) that no server connection PgBouncer keeps for
// the database of `pooled_dsn` and its user carries anything a client left
// behind: each one, pinned by a client's open transaction, must show the
// same settings (pg_settings, what SHOW ALL lists) as a fresh direct
// connection `direct_dsn` to the same database and user, no named prepared
// statement and no advisory lock. Every server connection of that pool
// (PgBouncer's SHOW SERVERS) is covered. Returns how many were checked (0
// when the pool has none: the caller decides whether that is expected).
int ExpectPoolIsClean(const std::string& pooled_dsn,
                      const std::string& direct_dsn);

// Makes every server connection of that pool report its statistics now
// (pg_stat_force_next_flush): a pooled backend outlives its clients, and
// PostgreSQL may hold a busy backend's counts back for up to 10 seconds.
void FlushPoolStats(const std::string& pooled_dsn);

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_POOL_CHECK_H_
