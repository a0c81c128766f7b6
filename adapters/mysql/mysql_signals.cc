#include "adapters/mysql/mysql_signals.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/mysql/mysql_connection.h"

namespace backfill::mysql {
namespace {

constexpr char kHeartbeatTable[] = "`backfill_heartbeat`";
constexpr absl::Duration kStatementTimeout = absl::Seconds(1);

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// One connection of a signal, opened lazily and re-opened on the next call
// after it broke. Not thread-safe (one poller thread).
class Session {
 public:
  // `setup`: statements run after each connect (errors fail the connect).
  Session(ConnectionSettings settings, absl::Duration timeout,
          std::vector<std::string> setup = {})
      : settings_(WithReadTimeout(std::move(settings), timeout)),
        timeout_(timeout),
        setup_(std::move(setup)) {}

  absl::Status Connect() {
    absl::StatusOr<std::unique_ptr<MysqlConnection>> c =
        MysqlConnection::Open(settings_);
    if (!c.ok()) return c.status();
    // Bound every statement: MariaDB's max_statement_time (seconds, all
    // statements), else MySQL's max_execution_time (ms, SELECT only).
    const double seconds = std::max(0.001, absl::ToDoubleSeconds(timeout_));
    if (!(*c)->Exec(absl::StrCat("SET SESSION max_statement_time = ", seconds),
                    "")
             .ok()) {
      (void)(*c)->Exec(
          absl::StrCat(
              "SET SESSION max_execution_time = ",
              std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout_))),
          "");
    }
    for (const std::string& sql : setup_) {
      absl::StatusOr<ExecResult> r =
          (*c)->Exec(sql, "cannot set up the session");
      if (!r.ok()) return r.status();
    }
    conn_ = *std::move(c);
    return absl::OkStatus();
  }

  // The connection, connecting first if needed.
  absl::StatusOr<MysqlConnection*> Get() {
    if (conn_ == nullptr) {
      if (absl::Status s = Connect(); !s.ok()) return s;
    }
    return conn_.get();
  }

  // The statement timeout is the server's; a server that has gone silent
  // (black-holed network, hung proxy) never sends the error. A client-side
  // read bound one second past it turns that into a lost connection, so the
  // next reading reconnects instead of the poller blocking for good.
  static ConnectionSettings WithReadTimeout(ConnectionSettings s,
                                            absl::Duration timeout) {
    s.read_timeout_seconds = static_cast<unsigned int>(
        absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))) + 1);
    return s;
  }

  // Passes `s` through, dropping the connection if it is no longer usable.
  absl::Status Check(absl::Status s) {
    if (absl::IsUnavailable(s)) conn_.reset();
    return s;
  }

 private:
  const ConnectionSettings settings_;
  const absl::Duration timeout_;
  const std::vector<std::string> setup_;
  std::unique_ptr<MysqlConnection> conn_;
};

absl::StatusOr<ConnectionSettings> Settings(const Dsn& dsn,
                                            const ConnectOptions& options) {
  absl::StatusOr<ConnectionSettings> s = SettingsFromDsn(dsn, options);
  if (!s.ok()) return s.status();
  bool has_timeout = false;
  for (const auto& [k, v] : dsn.params) {
    has_timeout |= k == "connect-timeout" || k == "connect_timeout";
  }
  // A replica that is down refuses at once; one that is unreachable must not
  // hold the poller (and the run's shutdown) for long.
  if (!has_timeout) s->connect_timeout_seconds = 2;
  return s;
}

// --- heartbeat --------------------------------------------------------------

class MysqlHeartbeat final : public Heartbeat {
 public:
  MysqlHeartbeat(ConnectionSettings settings, std::string job)
      : job_(std::move(job)),
        session_(std::move(settings), kStatementTimeout,
                 {"SET SESSION innodb_lock_wait_timeout = 1"}) {}

  absl::Status CreateTable() {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return c.status();
    return session_.Check(
        (*c)->Exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", kHeartbeatTable,
                                " (job VARCHAR(255) NOT NULL PRIMARY KEY, "
                                "ts DATETIME(6) NOT NULL COMMENT 'UTC') "
                                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                                "COLLATE=utf8mb4_bin"),
                   "cannot create the heartbeat table")
            .status());
  }

  absl::Status Beat() override {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return c.status();
    // UTC on both ends, so the session time zones never matter. With
    // statement-based binlogs the replica replays UTC_TIMESTAMP(6) at the
    // primary's event time, so the value is the primary's clock either way.
    return session_.Check(
        (*c)->Exec(absl::StrCat("INSERT INTO ", kHeartbeatTable,
                                " (job, ts) VALUES (", (*c)->Literal(job_),
                                ", UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE "
                                "ts = VALUES(ts)"),
                   "cannot write the heartbeat")
            .status());
  }

 private:
  const std::string job_;
  Session session_;
};

// --- replica lag from the heartbeat
// -------------------------------------------

class MysqlReplicaLag final : public Signal {
 public:
  MysqlReplicaLag(ConnectionSettings settings, std::string name,
                  std::string job, const LagLimits& limits)
      : name_(std::move(name)),
        job_(std::move(job)),
        limits_(limits),
        session_(std::move(settings), kStatementTimeout) {}

  Session& session() { return session_; }
  const std::string& name() const override { return name_; }

  Reading Read() override {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return Reading::Unreadable(Message(c.status()));
    absl::StatusOr<std::vector<SqlRow>> r = (*c)->Query(
        absl::StrCat("SELECT TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) "
                     "FROM ",
                     kHeartbeatTable, " WHERE job = ", (*c)->Literal(job_)),
        "cannot read the heartbeat");
    if (!r.ok())
      return Reading::Unreadable(Message(session_.Check(r.status())));
    int64_t micros = 0;
    if (r->empty() || !r->front()[0].has_value() ||
        !absl::SimpleAtoi(*r->front()[0], &micros)) {
      return Reading::Unreadable("no heartbeat row for this job yet");
    }
    return Reading::Ok(static_cast<double>(micros) / 1e6,
                       absl::ToDoubleSeconds(limits_.max_lag), "s",
                       absl::ToDoubleSeconds(limits_.critical_lag));
  }

 private:
  const std::string name_;
  const std::string job_;
  const LagLimits limits_;
  Session session_;
};

// --- probe and throttle query
// -------------------------------------------------

// A bad query is bad input when the signal is opened; at run time the same
// error only makes the signal unreadable.
absl::Status QueryError(absl::string_view flag, const absl::Status& s) {
  if (absl::IsUnavailable(s) || absl::IsUnauthenticated(s)) return s;
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
}

// Read-only: a probe or throttle query must never write.
const std::vector<std::string> kReadOnly = {
    "SET SESSION TRANSACTION READ ONLY"};

class MysqlProbe final : public Probe {
 public:
  MysqlProbe(ConnectionSettings settings, std::string sql,
             absl::Duration timeout)
      : sql_(std::move(sql)),
        session_(std::move(settings), timeout, kReadOnly) {}

  absl::Status Run() override {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return c.status();
    return session_.Check((*c)->Query(sql_, "probe query failed").status());
  }

 private:
  const std::string sql_;
  Session session_;
};

class MysqlThrottleQuery final : public Signal {
 public:
  MysqlThrottleQuery(ConnectionSettings settings, std::string sql,
                     double threshold)
      : sql_(std::move(sql)),
        threshold_(threshold),
        session_(std::move(settings), kStatementTimeout, kReadOnly) {}

  const std::string& name() const override { return name_; }

  // The query's status; `reading` set when it ran.
  absl::Status Query(Reading* reading) {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return c.status();
    absl::StatusOr<std::vector<SqlRow>> r =
        (*c)->Query(sql_, "throttle query failed");
    if (!r.ok()) return session_.Check(r.status());
    double value = 0;
    if (r->empty() || r->front().empty()) {
      *reading = Reading::Unreadable("the query returned no row");
    } else if (!r->front()[0].has_value()) {
      *reading = Reading::Unreadable("the query returned NULL");
    } else if (!absl::SimpleAtod(*r->front()[0], &value)) {
      *reading = Reading::Unreadable(
          absl::StrCat("not a number: \"", *r->front()[0], "\""));
    } else {
      *reading = Reading::Ok(value, threshold_);
    }
    return absl::OkStatus();
  }

  Reading Read() override {
    Reading reading;
    if (absl::Status s = Query(&reading); !s.ok()) {
      return Reading::Unreadable(Message(s));
    }
    return reading;
  }

 private:
  const std::string name_ = "throttle_query";
  const std::string sql_;
  const double threshold_;
  Session session_;
};

// --- load --------------------------------------------------------------------

class MysqlLoad final : public Signal {
 public:
  MysqlLoad(ConnectionSettings settings, const LoadLimit& limit)
      : name_(absl::StrCat("load ", limit.variable)),
        limit_(limit),
        session_(std::move(settings), kStatementTimeout, kReadOnly) {}

  const std::string& name() const override { return name_; }

  // The variable's value; kInvalidArgument when the server has no such
  // global status variable or it is not a number.
  absl::StatusOr<double> Value() {
    absl::StatusOr<MysqlConnection*> c = session_.Get();
    if (!c.ok()) return c.status();
    // SHOW ... WHERE compares Variable_name without regard to case.
    absl::StatusOr<std::vector<SqlRow>> r =
        (*c)->Query(absl::StrCat("SHOW GLOBAL STATUS WHERE Variable_name = ",
                                 (*c)->Literal(limit_.variable)),
                    "cannot read the global status");
    if (!r.ok()) return session_.Check(r.status());
    if (r->empty() || r->front().size() < 2 || !r->front()[1].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no global status variable \"", limit_.variable,
                       "\" on this server (SHOW GLOBAL STATUS)"));
    }
    double value = 0;
    if (!absl::SimpleAtod(*r->front()[1], &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("global status variable \"", limit_.variable,
                       "\" is not a number: \"", *r->front()[1], "\""));
    }
    return value;
  }

  Reading Read() override {
    absl::StatusOr<double> v = Value();
    if (!v.ok()) return Reading::Unreadable(Message(v.status()));
    return Reading::Ok(*v, limit_.max > 0 ? limit_.max : limit_.critical, "",
                       limit_.critical);
  }

 private:
  const std::string name_;
  const LoadLimit limit_;
  Session session_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Heartbeat>> OpenHeartbeat(
    const Dsn& dsn, const ConnectOptions& options, const std::string& job) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  auto heartbeat = std::make_unique<MysqlHeartbeat>(*std::move(settings), job);
  if (absl::Status s = heartbeat->CreateTable(); !s.ok()) return s;
  return std::unique_ptr<Heartbeat>(std::move(heartbeat));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLag(
    const Dsn& dsn, const ConnectOptions& options, std::string name,
    const std::string& job, const LagLimits& limits) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  auto signal = std::make_unique<MysqlReplicaLag>(*std::move(settings),
                                                  std::move(name), job, limits);
  // A replica that is down now is watched anyway (unreadable until it is
  // back); any other failure is a mistake in the flags.
  absl::Status s = signal->session().Connect();
  if (!s.ok() && !absl::IsUnavailable(s)) return s;
  return std::unique_ptr<Signal>(std::move(signal));
}

absl::StatusOr<std::unique_ptr<Probe>> OpenProbe(const Dsn& dsn,
                                                 const ConnectOptions& options,
                                                 const std::string& sql,
                                                 absl::Duration timeout) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  auto probe = std::make_unique<MysqlProbe>(*std::move(settings), sql, timeout);
  if (absl::Status s = probe->Run(); !s.ok()) {
    return QueryError("--probe-query", s);
  }
  return std::unique_ptr<Probe>(std::move(probe));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenLoad(const Dsn& dsn,
                                                 const ConnectOptions& options,
                                                 const LoadLimit& limit) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  auto signal = std::make_unique<MysqlLoad>(*std::move(settings), limit);
  if (absl::StatusOr<double> v = signal->Value(); !v.ok()) {
    return QueryError("--max-load", v.status());
  }
  return std::unique_ptr<Signal>(std::move(signal));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenThrottleQuery(
    const Dsn& dsn, const ConnectOptions& options, const std::string& sql,
    double threshold) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  auto signal = std::make_unique<MysqlThrottleQuery>(*std::move(settings), sql,
                                                     threshold);
  Reading first;
  if (absl::Status s = signal->Query(&first); !s.ok()) {
    return QueryError("--throttle-query", s);
  }
  return std::unique_ptr<Signal>(std::move(signal));
}

}  // namespace backfill::mysql
