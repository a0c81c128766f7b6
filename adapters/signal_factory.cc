#include "adapters/signal_factory.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/mysql/mysql_signals.h"
#include "adapters/postgres/pg_conninfo.h"
#include "adapters/postgres/pg_signals.h"
#include "engine/probe_signal.h"

namespace backfill {
namespace {

absl::StatusOr<Dsn> Parse(const ConnectOptions& options) {
  return ParseDsn(options.dsn);
}

}  // namespace

absl::StatusOr<std::string> ReplicaLabel(const std::string& replica_dsn) {
  absl::StatusOr<Dsn> dsn = ParseDsn(replica_dsn);
  if (!dsn.ok()) return dsn.status();
  if (dsn->kind == DatabaseKind::kPostgres) {
    absl::StatusOr<pg::Conninfo> info = pg::Conninfo::Parse(replica_dsn);
    if (!info.ok()) return info.status();
    return absl::StrCat("replica=", info->Label());
  }
  int port = dsn->port;
  if (port == 0) port = dsn->kind == DatabaseKind::kPostgres ? 5432 : 3306;
  const std::string host = dsn->host.empty() ? "localhost" : dsn->host;
  return absl::StrCat(
      "replica=",
      host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host,
      ":", port);
}

absl::StatusOr<std::unique_ptr<Heartbeat>> OpenHeartbeat(
    const ConnectOptions& primary, const std::string& job) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  if (dsn->kind == DatabaseKind::kPostgres) {
    return pg::OpenHeartbeat(*dsn, primary, job);
  }
  return mysql::OpenHeartbeat(*dsn, primary, job);
}

absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLagSignal(
    const ConnectOptions& replica, const std::string& job,
    const LagLimits& limits) {
  absl::StatusOr<Dsn> dsn = Parse(replica);
  if (!dsn.ok()) return dsn.status();
  absl::StatusOr<std::string> label = ReplicaLabel(replica.dsn);
  if (!label.ok()) return label.status();
  std::string name = absl::StrCat("replication_lag ", *label);
  if (dsn->kind == DatabaseKind::kPostgres) {
    return pg::OpenReplicaLag(*dsn, replica, std::move(name), job, limits);
  }
  return mysql::OpenReplicaLag(*dsn, replica, std::move(name), job, limits);
}

absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenPrimaryLagSignals(
    const ConnectOptions& primary, const LagLimits& limits, bool watch_time) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  if (dsn->kind == DatabaseKind::kPostgres) {
    return pg::OpenPrimaryLag(*dsn, primary, limits, watch_time);
  }
  if (limits.max_lag_bytes > 0) {
    return absl::FailedPreconditionError(
        "--max-lag-bytes is PostgreSQL only (bytes of WAL behind); on MySQL "
        "use --max-lag with --replica URI");
  }
  if (!watch_time) return std::vector<std::unique_ptr<Signal>>();
  return absl::FailedPreconditionError(
      "a MySQL primary cannot see its replicas' lag: give --replica URI for "
      "each replica to watch (repeatable)");
}

absl::Duration ProbeTimeout(absl::Duration max_latency) {
  return std::max(absl::Seconds(1), 2 * max_latency);
}

absl::StatusOr<std::unique_ptr<Signal>> OpenProbeSignal(
    const ConnectOptions& primary, const std::string& sql,
    absl::Duration max_latency, Clock* clock) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  const absl::Duration timeout = ProbeTimeout(max_latency);
  absl::StatusOr<std::unique_ptr<Probe>> probe =
      dsn->kind == DatabaseKind::kPostgres
          ? pg::OpenProbe(*dsn, primary, sql, timeout)
          : mysql::OpenProbe(*dsn, primary, sql, timeout);
  if (!probe.ok()) return probe.status();
  return std::unique_ptr<Signal>(std::make_unique<ProbeLatencySignal>(
      *std::move(probe), max_latency, clock));
}

absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenLoadSignals(
    const ConnectOptions& primary, const std::vector<LoadLimit>& limits) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  std::vector<std::unique_ptr<Signal>> out;
  for (const LoadLimit& limit : limits) {
    absl::StatusOr<std::unique_ptr<Signal>> signal =
        dsn->kind == DatabaseKind::kPostgres
            ? pg::OpenLoad(*dsn, primary, limit)
            : mysql::OpenLoad(*dsn, primary, limit);
    if (!signal.ok()) return signal.status();
    out.push_back(*std::move(signal));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Signal>> OpenThrottleQuerySignal(
    const ConnectOptions& primary, const std::string& sql, double threshold) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  if (dsn->kind == DatabaseKind::kPostgres) {
    return pg::OpenThrottleQuery(*dsn, primary, sql, threshold);
  }
  return mysql::OpenThrottleQuery(*dsn, primary, sql, threshold);
}

}  // namespace backfill
