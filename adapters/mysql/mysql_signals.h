#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/signal_factory.h"
#include "engine/dsn.h"
#include "engine/pacer.h"
#include "engine/probe_signal.h"
#include "throttle/signal.h"

// MySQL/MariaDB implementations of the pacing signals; see signal_factory.h
// for the contracts. `dsn` must be a mysql kind; `options` supplies the
// password override, as for OpenMysql. Sessions use the adapter's
// MysqlConnection with a 2s connect timeout (unless the DSN sets
// connect-timeout) and a 1s statement limit (MariaDB max_statement_time,
// MySQL max_execution_time).

namespace backfill::mysql {

absl::StatusOr<std::unique_ptr<Heartbeat>> OpenHeartbeat(
    const Dsn& dsn, const ConnectOptions& options, const std::string& job);

absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLag(
    const Dsn& dsn, const ConnectOptions& options, std::string name,
    const std::string& job, const LagLimits& limits);

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

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_
