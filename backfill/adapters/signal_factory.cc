#include "backfill/adapters/signal_factory.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backfill/adapters/mysql/mysql_signals.h"
#include "backfill/adapters/postgres/pg_conninfo.h"
#include "backfill/adapters/postgres/pg_signals.h"
#include "backfill/adapters/session_signals.h"
#include "backfill/engine/probe_signal.h"

namespace backfill {
namespace {

absl::StatusOr<Dsn> Parse(const ConnectOptions& options) {
  return ParseDsn(options.dsn);
}

// Every signal statement is bounded by this (the probe by ProbeTimeout).
constexpr absl::Duration kStatementTimeout = absl::Seconds(1);

const SignalDialect& DialectOf(const Dsn& dsn) {
  return dsn.kind == DatabaseKind::kPostgres ? pg::Signals() : mysql::Signals();
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
  const SignalDialect& d = DialectOf(*dsn);
  absl::StatusOr<std::unique_ptr<SignalSession>> session =
      d.open_session(*dsn, primary, SessionUse::kHeartbeat, kStatementTimeout);
  if (!session.ok()) return session.status();
  return OpenSessionHeartbeat(*std::move(session), d.heartbeat, job);
}

absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLagSignal(
    const ConnectOptions& replica, const std::string& job,
    const LagLimits& limits) {
  absl::StatusOr<Dsn> dsn = Parse(replica);
  if (!dsn.ok()) return dsn.status();
  absl::StatusOr<std::string> label = ReplicaLabel(replica.dsn);
  if (!label.ok()) return label.status();
  const SignalDialect& d = DialectOf(*dsn);
  absl::StatusOr<std::unique_ptr<SignalSession>> session =
      d.open_session(*dsn, replica, SessionUse::kReplicaLag, kStatementTimeout);
  if (!session.ok()) return session.status();
  return OpenSessionReplicaLag(
      *std::move(session), d.heartbeat,
      label->substr(std::string_view("replica=").size()), job, limits);
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
        "`lag.max_lag_bytes` is PostgreSQL only (bytes of WAL behind); on "
        "MySQL use `lag.max_lag` with `replicas` URI");
  }
  if (!watch_time) return std::vector<std::unique_ptr<Signal>>();
  return absl::FailedPreconditionError(
      "a MySQL primary cannot see its replicas' lag: give `replicas` URI for "
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
  absl::StatusOr<std::unique_ptr<SignalSession>> session =
      DialectOf(*dsn).open_session(*dsn, primary, SessionUse::kReadOnly,
                                   ProbeTimeout(max_latency));
  if (!session.ok()) return session.status();
  absl::StatusOr<std::unique_ptr<Probe>> probe =
      OpenSessionProbe(*std::move(session), sql);
  if (!probe.ok()) return probe.status();
  return std::unique_ptr<Signal>(std::make_unique<ProbeLatencySignal>(
      *std::move(probe), max_latency, clock));
}

absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenLoadSignals(
    const ConnectOptions& primary, const std::vector<LoadLimit>& limits) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  const SignalDialect& d = DialectOf(*dsn);
  std::vector<std::unique_ptr<Signal>> out;
  for (const LoadLimit& limit : limits) {
    absl::StatusOr<std::unique_ptr<SignalSession>> session =
        d.open_session(*dsn, primary, SessionUse::kReadOnly, kStatementTimeout);
    if (!session.ok()) return session.status();
    if (d.check_load != nullptr) {
      if (absl::Status s = d.check_load(**session, limit); !s.ok()) {
        return absl::IsInvalidArgument(s) || absl::IsPermissionDenied(s)
                   ? s
                   : QueryError("load", s);
      }
    }
    absl::StatusOr<std::unique_ptr<Signal>> signal =
        OpenSessionLoad(*std::move(session), limit, d.load);
    if (!signal.ok()) return signal.status();
    out.push_back(*std::move(signal));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Signal>> OpenThrottleQuerySignal(
    const ConnectOptions& primary, const std::string& sql, double threshold) {
  absl::StatusOr<Dsn> dsn = Parse(primary);
  if (!dsn.ok()) return dsn.status();
  absl::StatusOr<std::unique_ptr<SignalSession>> session =
      DialectOf(*dsn).open_session(*dsn, primary, SessionUse::kReadOnly,
                                   kStatementTimeout);
  if (!session.ok()) return session.status();
  return OpenSessionThrottleQuery(*std::move(session), sql, threshold);
}

}  // namespace backfill
