#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/signal_factory.h"
#include "engine/dsn.h"
#include "engine/pacer.h"
#include "engine/probe_signal.h"
#include "throttle/signal.h"

// PostgreSQL implementations of the pacing signals; see signal_factory.h for
// the contracts. `dsn` must be a postgres kind; `options` supplies the
// password override, as for OpenPostgres.

namespace backfill::pg {

absl::StatusOr<std::unique_ptr<Heartbeat>> OpenHeartbeat(
    const Dsn& dsn, const ConnectOptions& options, const std::string& job);

absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLag(
    const Dsn& dsn, const ConnectOptions& options, std::string name,
    const std::string& job, const LagLimits& limits);

absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenPrimaryLag(
    const Dsn& dsn, const ConnectOptions& options, const LagLimits& limits,
    bool watch_time);

absl::StatusOr<std::unique_ptr<Probe>> OpenProbe(const Dsn& dsn,
                                                 const ConnectOptions& options,
                                                 const std::string& sql,
                                                 absl::Duration timeout);

absl::StatusOr<std::unique_ptr<Signal>> OpenLoad(const Dsn& dsn,
                                                 const ConnectOptions& options,
                                                 const LoadLimit& limit);

absl::StatusOr<std::unique_ptr<Signal>> OpenThrottleQuery(
    const Dsn& dsn, const ConnectOptions& options, const std::string& sql,
    double threshold);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_SIGNALS_H_
