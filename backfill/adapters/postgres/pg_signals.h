#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backfill/adapters/session_signals.h"
#include "backfill/adapters/signal_factory.h"
#include "backfill/engine/dsn.h"
#include "backfill/throttle/signal.h"

namespace backfill::pg {

// The PostgreSQL side of the pacing signals
// (backfill/adapters/session_signals.h): sessions whose every call is one
// transaction of SET LOCAL settings, bounded by statement_timeout and by a
// silence watchdog one second past it; the heartbeat's SQL (clock_timestamp());
// the load active_sessions.
const SignalDialect& Signals();

// pg_stat_replication as OpenPrimaryLagSignals describes it; `options`
// supplies the password override, as for OpenPostgres.
absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenPrimaryLag(
    const Dsn& dsn, const ConnectOptions& options, const LagLimits& limits,
    bool watch_time);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_
