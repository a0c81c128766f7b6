#include "backfill/adapters/postgres/pg_signals.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "backfill/adapters/postgres/pg_conninfo.h"
#include "backfill/adapters/postgres/pg_errors.h"
#include "backfill/adapters/postgres/silence_watchdog.h"
#include "backfill/adapters/session_signals.h"

// See postgres_database.cc: a broken connection must not silently
// reconnect; the session reconnects itself on its next reading.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace backfill::pg {
namespace {

constexpr absl::Duration kStatementTimeout = absl::Seconds(1);

std::string TimeoutSql(absl::string_view setting, absl::Duration d) {
  return absl::StrCat("SET LOCAL ", setting, " = ",
                      std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

// One connection of a signal, opened lazily and re-opened on the next call
// after it broke. Every statement is bounded twice: by the server
// (statement_timeout = `timeout`) and, for a server that has gone silent and
// can send nothing, by a watchdog that drops the connection one second past
// it. Each call runs in its own transaction whose settings are all SET
// LOCAL, so nothing outlives it on a pooled server connection. Not
// thread-safe (one poller thread).
class Session final : public SignalSession {
 public:
  // `setup`: SET LOCAL statements run at the start of every transaction.
  // `check`: run once, after the first connect; an error from it fails that
  // connect (later reconnects skip it: a --replica promoted mid-run is still
  // read, see README "Poolers, HA and failover").
  Session(const Dsn& dsn_in, const ConnectOptions& options,
          absl::Duration timeout, std::vector<std::string> setup = {},
          std::function<absl::Status(pqxx::connection&)> check = nullptr)
      : silence_limit_(timeout + absl::Seconds(1)), check_(std::move(check)) {
    // standard_conforming_strings: Literal doubles quotes only.
    begin_ = absl::StrCat(
        "BEGIN; SET LOCAL client_min_messages = warning; SET LOCAL "
        "standard_conforming_strings = on; ",
        TimeoutSql("statement_timeout", timeout));
    for (const std::string& sql : setup) absl::StrAppend(&begin_, "; ", sql);
    ConnectOptions own = options;
    own.dsn = dsn_in.text;
    // A replica that is down refuses at once; one that is unreachable must
    // not hold the poller (and the run's shutdown) for long.
    absl::StatusOr<ConnectTarget> target = BuildConnectTarget(
        own, "backfill-pacer", /*connect_timeout_seconds=*/2);
    if (target.ok()) {
      uri_ = std::move(target->conninfo);
      secret_ = std::move(target->secret);
    } else {
      bad_dsn_ = target.status();
    }
  }

  // Runs `f(tx)` on a fresh nontransaction, connecting first if needed.
  // Exceptions become a Status (MapPgError); a connection that is no longer
  // usable is dropped so the next call reconnects.
  template <typename F>
  absl::Status Run(absl::string_view context, F&& f) {
    if (conn_ == nullptr) {
      if (absl::Status s = Connect(); !s.ok()) return s;
    }
    absl::Status s;
    bool broken = false;
    {
      ArmedWatchdog armed(watchdog_, conn_->sock(), silence_limit_);
      try {
        pqxx::nontransaction tx(*conn_);
        tx.exec(begin_);
        s = f(tx);
        tx.exec(s.ok() ? "COMMIT" : "ROLLBACK");
      } catch (const std::exception& e) {
        s = MapPgError(e, context, secret_);
        broken = absl::IsUnavailable(s) || !conn_->is_open();
        // Leave no transaction open; if even that fails, start afresh.
        if (!broken) {
          try {
            pqxx::nontransaction(*conn_).exec("ROLLBACK");
          } catch (const std::exception&) {
            broken = true;
          }
        }
      }
      if (armed.Disarm()) {
        s = Silent(context);
        broken = true;
      }
    }
    if (broken) conn_.reset();  // only once disarmed: it closes the socket
    return s;
  }

  absl::StatusOr<SignalRow> QueryRow(const std::string& sql,
                                     absl::string_view context) override {
    SignalRow out;
    absl::Status s = Run(context, [&](auto& tx) {
      try {
        pqxx::result r = tx.exec(sql);
        if (r.empty()) return absl::OkStatus();
        for (const pqxx::field& f : r[0]) {
          out.push_back(f.is_null() ? std::nullopt
                                    : std::optional<std::string>(f.c_str()));
        }
      } catch (const pqxx::unique_violation&) {
        // Only CREATE TABLE IF NOT EXISTS racing another job's does this.
        return absl::AlreadyExistsError("created at the same moment");
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  std::string Literal(absl::string_view value) const override {
    return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
  }

  absl::Status Connect() override {
    if (conn_ != nullptr) return absl::OkStatus();
    if (!bad_dsn_.ok()) return bad_dsn_;
    std::unique_ptr<pqxx::connection> conn;
    try {
      conn = std::make_unique<pqxx::connection>(uri_);  // connect_timeout
      conn->inhibit_reactivation(true);
    } catch (const std::exception& e) {
      return MapPgError(e, "cannot connect", secret_);
    }
    absl::Status s;
    if (check_ && !checked_) {
      ArmedWatchdog armed(watchdog_, conn->sock(), silence_limit_);
      try {
        s = check_(*conn);
      } catch (const std::exception& e) {
        s = MapPgError(e, "cannot connect", secret_);
      }
      if (armed.Disarm()) s = Silent("cannot connect");
      checked_ = s.ok();
    }
    if (s.ok()) conn_ = std::move(conn);
    return s;
  }

 private:
  absl::Status Silent(absl::string_view context) const {
    return absl::UnavailableError(absl::StrCat(
        context, ": no answer within ", absl::FormatDuration(silence_limit_),
        "; the connection was dropped"));
  }

  const absl::Duration silence_limit_;
  std::string begin_;  // BEGIN and the SET LOCAL setup, one round trip
  const std::function<absl::Status(pqxx::connection&)> check_;
  bool checked_ = false;
  std::string uri_;
  std::string secret_;
  absl::Status bad_dsn_;
  SilenceWatchdog watchdog_;
  std::unique_ptr<pqxx::connection> conn_;  // destroyed before watchdog_
};

std::string Message(const absl::Status& s) { return std::string(s.message()); }

constexpr HeartbeatSql kHeartbeat = {
    .create =
        "CREATE TABLE IF NOT EXISTS backfill_heartbeat (job text "
        "PRIMARY KEY, ts timestamptz NOT NULL)",
    .table = "backfill_heartbeat",
    .now = "clock_timestamp()",
    .upsert_tail = "ON CONFLICT (job) DO UPDATE SET ts = EXCLUDED.ts",
    .age_seconds = "extract(epoch FROM clock_timestamp() - ts)::float8",
};

absl::Status CheckStandby(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  if (!tx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>()) {
    return absl::FailedPreconditionError(
        "not a standby (pg_is_in_recovery() is false): a replica must be a "
        "streaming replica of the primary");
  }
  return absl::OkStatus();
}

// --- pg_stat_replication ----------------------------------------------------

struct Standby {
  int64_t pid = 0;
  std::string name;  // application_name at client address
  double replay_lag = 0;
  std::optional<double> bytes_behind;  // nullopt: no replay position yet
  std::string replay_lsn;
  double now = 0;  // the primary's clock, epoch seconds
};

constexpr char kStandbysSql[] =
    "SELECT pid, coalesce(nullif(application_name, ''), 'walsender') || "
    "coalesce(' at ' || host(client_addr), ''), "
    "coalesce(extract(epoch FROM replay_lag)::float8, 0), "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, "
    "coalesce(replay_lsn::text, ''), "
    "extract(epoch FROM clock_timestamp())::float8 "
    "FROM pg_stat_replication ORDER BY 2, 1";

absl::Status ReadStandbys(Session& session, std::vector<Standby>* out) {
  out->clear();
  return session.Run("cannot read pg_stat_replication", [&](auto& tx) {
    for (const pqxx::row& row : tx.exec(kStandbysSql)) {
      Standby s;
      s.pid = row[0].template as<int64_t>();
      s.name = row[1].c_str();
      s.replay_lag = row[2].template as<double>();
      if (!row[3].is_null()) s.bytes_behind = row[3].template as<double>();
      s.replay_lsn = row[4].c_str();
      s.now = row[5].template as<double>();
      out->push_back(std::move(s));
    }
    return absl::OkStatus();
  });
}

class PgStatReplication final : public Signal {
 public:
  enum class Kind { kTime, kBytes };

  PgStatReplication(const Dsn& dsn, const ConnectOptions& options, Kind kind,
                    const LagLimits& limits,
                    std::map<std::string, int> expected)
      : name_(kind == Kind::kTime ? "replication_lag pg_stat_replication"
                                  : "replication_bytes pg_stat_replication"),
        kind_(kind),
        limits_(limits),
        expected_(std::move(expected)),
        session_(dsn, options, kStatementTimeout) {}

  const std::string& name() const override { return name_; }
  SignalKind kind() const override {
    return kind_ == Kind::kTime ? SignalKind::kStandbyLag
                                : SignalKind::kReplicationBytes;
  }

  Reading Read() override {
    std::vector<Standby> standbys;
    if (absl::Status s = ReadStandbys(session_, &standbys); !s.ok()) {
      return Reading::Unreadable(Message(s));
    }
    // After a failover (the primary's timeline changed) the standbys watched
    // are those of the new primary, from its first reading on: the old set
    // includes the promoted server itself, which will never reconnect.
    std::string timeline;
    if (absl::Status s = ReadTimeline(&timeline); !s.ok()) {
      return Reading::Unreadable(Message(s));
    }
    if (!timeline_.empty() && timeline != timeline_) {
      expected_.clear();
      stuck_.clear();
    }
    timeline_ = timeline;
    std::map<std::string, int> seen;
    for (const Standby& s : standbys) ++seen[s.name];
    std::vector<std::string> missing;
    for (auto& [name, count] : expected_) {
      const int now = seen.count(name) ? seen[name] : 0;
      if (now < count) missing.push_back(name);
    }
    // A standby that connects later is watched from then on.
    for (const auto& [name, count] : seen) {
      expected_[name] = std::max(expected_[name], count);
    }
    if (!missing.empty()) {
      return Reading::Unreadable(absl::StrCat(
          "standby ", absl::StrJoin(missing, ", "), " is not connected"));
    }

    double worst = 0;
    std::map<int64_t, Stuck> stuck;
    for (const Standby& s : standbys) {
      if (!s.bytes_behind.has_value()) {
        return Reading::Unreadable(absl::StrCat(
            "standby ", s.name, " has not reported its replay position"));
      }
      if (kind_ == Kind::kBytes) {
        worst = std::max(worst, *s.bytes_behind);
        continue;
      }
      // replay_lag is only measured when the replay position moves: while
      // replay is stalled it keeps its last value. So also count how long
      // the replay position has stayed put while the primary is ahead.
      double lag = s.replay_lag;
      if (*s.bytes_behind > 0) {
        Stuck st{s.replay_lsn, s.now};
        auto it = stuck_.find(s.pid);
        if (it != stuck_.end() && it->second.lsn == s.replay_lsn) {
          st = it->second;
        }
        lag = std::max(lag, s.now - st.since);
        stuck[s.pid] = st;
      }
      worst = std::max(worst, lag);
    }
    stuck_ = std::move(stuck);
    if (kind_ == Kind::kBytes) {
      return Reading::Ok(worst, static_cast<double>(limits_.max_lag_bytes),
                         "B");
    }
    return Reading::Ok(worst, absl::ToDoubleSeconds(limits_.max_lag), "s",
                       absl::ToDoubleSeconds(limits_.critical_lag));
  }

 private:
  struct Stuck {
    std::string lsn;
    double since = 0;
  };

  // The timeline of the primary's current WAL position (the first 8 hex
  // digits of its WAL file name); it changes when a standby is promoted.
  absl::Status ReadTimeline(std::string* out) {
    return session_.Run("cannot read the primary's timeline", [&](auto& tx) {
      *out = tx.exec(
                   "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, "
                   "8)")[0][0]
                 .c_str();
      return absl::OkStatus();
    });
  }

  const std::string name_;
  const Kind kind_;
  const LagLimits limits_;
  std::map<std::string, int> expected_;  // standby name -> connections
  std::map<int64_t, Stuck> stuck_;       // by walsender pid
  std::string timeline_;                 // of the primary last read
  Session session_;
};

std::vector<std::string> ReadOnlySetup() {
  return {"SET LOCAL transaction_read_only = on"};
}

constexpr char kActiveSessions[] = "active_sessions";

// Client backends doing something, not counting the engine's own sessions
// (the copier between chunks is idle; during one it is not) nor this one.
constexpr char kActiveSessionsSql[] =
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client "
    "backend' AND state <> 'idle' AND pid <> pg_backend_pid() AND "
    "application_name NOT IN ('backfill', 'backfill-pacer')";

absl::StatusOr<double> ActiveSessions(SignalSession& session,
                                      const LoadLimit&) {
  absl::StatusOr<SignalRow> row =
      session.QueryRow(kActiveSessionsSql, "cannot read pg_stat_activity");
  if (!row.ok()) return row.status();
  return NumberField(*row, 0, "pg_stat_activity");
}

// Whether the session's role may read other roles' activity and
// replication state (pg_read_all_stats, through pg_monitor or superuser).
absl::StatusOr<bool> ReadsAllStats(SignalSession& session,
                                   absl::string_view context) {
  absl::StatusOr<SignalRow> row = session.QueryRow(
      "SELECT pg_has_role('pg_read_all_stats', 'MEMBER')", context);
  if (!row.ok()) return row.status();
  return !row->empty() && (*row)[0] == "t";
}

absl::StatusOr<std::unique_ptr<SignalSession>> OpenSession(
    const Dsn& dsn, const ConnectOptions& options, SessionUse use,
    absl::Duration timeout) {
  switch (use) {
    case SessionUse::kHeartbeat:
      // The server's own durability (synchronous_commit as configured): its
      // beats are timed as the commit latency the application sees,
      // synchronous standbys included. A commit stuck on a standby is cut
      // by the statement timeout and reads as a slow one.
      return std::make_unique<Session>(
          dsn, options, timeout,
          std::vector<std::string>{TimeoutSql("lock_timeout", timeout)});
    case SessionUse::kReplicaLag:
      return std::make_unique<Session>(
          dsn, options, timeout, std::vector<std::string>{}, CheckStandby);
    case SessionUse::kReadOnly:
      break;
  }
  return std::make_unique<Session>(dsn, options, timeout, ReadOnlySetup());
}

// PostgreSQL has one load variable, and reading it needs pg_read_all_stats:
// without it, other roles' sessions show no state and would go uncounted.
absl::Status CheckLoad(SignalSession& session, const LoadLimit& limit) {
  if (!absl::EqualsIgnoreCase(limit.variable, kActiveSessions)) {
    return absl::InvalidArgumentError(
        absl::StrCat("load: PostgreSQL has one load variable, active_sessions "
                     "(client backends that are not idle), not \"",
                     limit.variable, "\""));
  }
  absl::StatusOr<bool> allowed =
      ReadsAllStats(session, "cannot read pg_stat_activity");
  if (!allowed.ok()) return allowed.status();
  if (!*allowed) {
    return absl::PermissionDeniedError(
        "load: active_sessions needs the pg_monitor (or pg_read_all_stats) "
        "role to see other roles' sessions: grant it");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenPrimaryLag(
    const Dsn& dsn, const ConnectOptions& options, const LagLimits& limits,
    bool watch_time) {
  std::vector<std::unique_ptr<Signal>> out;
  if (!watch_time && limits.max_lag_bytes <= 0) return out;
  Session session(dsn, options, kStatementTimeout);
  absl::StatusOr<bool> allowed;
  absl::Status s = RetryAtOpen([&] {
    allowed = ReadsAllStats(session, "cannot read pg_stat_replication");
    return allowed.status();
  });
  if (!s.ok()) return s;
  if (!*allowed) {
    return absl::PermissionDeniedError(
        "watching replication lag through pg_stat_replication needs the "
        "pg_monitor (or pg_read_all_stats) role: grant it, or give `replicas` "
        "URI for each replica");
  }
  std::vector<Standby> standbys;
  if (absl::Status r = ReadStandbys(session, &standbys); !r.ok()) return r;
  if (standbys.empty()) return out;
  std::map<std::string, int> expected;
  for (const Standby& st : standbys) ++expected[st.name];
  if (watch_time) {
    out.push_back(std::make_unique<PgStatReplication>(
        dsn, options, PgStatReplication::Kind::kTime, limits, expected));
  }
  if (limits.max_lag_bytes > 0) {
    out.push_back(std::make_unique<PgStatReplication>(
        dsn, options, PgStatReplication::Kind::kBytes, limits, expected));
  }
  return out;
}

const SignalDialect& Signals() {
  static constexpr SignalDialect kDialect = {
      OpenSession,
      kHeartbeat,
      ActiveSessions,
      CheckLoad,
  };
  return kDialect;
}

}  // namespace backfill::pg
