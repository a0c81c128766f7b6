#include "backfill/adapters/mysql/mysql_signals.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backfill/adapters/mysql/mysql_connection.h"
#include "backfill/adapters/mysql/mysql_sql.h"
#include "backfill/adapters/session_signals.h"

namespace backfill::mysql {
namespace {

// One connection of a signal (SignalSession), opened lazily and re-opened
// on the next call after it broke. Not thread-safe (one poller thread).
class Session final : public SignalSession {
 public:
  // `setup`: statements run after each connect (errors fail the connect).
  Session(ConnectionSettings settings, absl::Duration timeout,
          std::vector<std::string> setup = {})
      : settings_(WithReadTimeout(std::move(settings), timeout)),
        timeout_(timeout),
        setup_(std::move(setup)) {}

  absl::Status Connect() override {
    if (conn_ != nullptr) return absl::OkStatus();
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

  absl::StatusOr<SignalRow> QueryRow(const std::string& sql,
                                     absl::string_view context) override {
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<std::vector<SqlRow>> rows = conn_->Query(sql, context);
    if (!rows.ok()) {
      if (absl::IsUnavailable(rows.status())) conn_.reset();
      return rows.status();
    }
    if (rows->empty()) return SignalRow();
    return std::move(rows->front());
  }

  std::string Literal(absl::string_view value) const override {
    return conn_ != nullptr
               ? conn_->Literal(value)
               : QuoteString(value, /*no_backslash_escapes=*/false);
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

constexpr HeartbeatSql kHeartbeat = {
    .create =
        "CREATE TABLE IF NOT EXISTS `backfill_heartbeat` (job "
        "VARCHAR(255) NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL "
        "COMMENT 'UTC') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
        "COLLATE=utf8mb4_bin",
    .table = "`backfill_heartbeat`",
    // UTC on both ends, so the session time zones never matter. With
    // statement-based binlogs the replica replays UTC_TIMESTAMP(6) at the
    // primary's event time, so the value is the primary's clock either way.
    .now = "UTC_TIMESTAMP(6)",
    .upsert_tail = "ON DUPLICATE KEY UPDATE ts = VALUES(ts)",
    .age_seconds =
        "TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) * 0.000001",
};

// Read-only: a probe, throttle query or load reading must never write.
const std::vector<std::string> kReadOnly = {
    "SET SESSION TRANSACTION READ ONLY"};

// A global status variable (SHOW ... WHERE compares Variable_name without
// regard to case); kInvalidArgument when the server has none of that name
// or it is not a number.
absl::StatusOr<double> GlobalStatus(SignalSession& session,
                                    const LoadLimit& limit) {
  if (absl::Status s = session.Connect(); !s.ok()) return s;
  absl::StatusOr<SignalRow> row =
      session.QueryRow(absl::StrCat("SHOW GLOBAL STATUS WHERE Variable_name = ",
                                    session.Literal(limit.variable)),
                       "cannot read the global status");
  if (!row.ok()) return row.status();
  if (row->size() < 2 || !(*row)[1].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no global status variable \"", limit.variable,
                     "\" on this server (SHOW GLOBAL STATUS)"));
  }
  absl::StatusOr<double> value = NumberField(*row, 1, "SHOW GLOBAL STATUS");
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("global status variable \"", limit.variable,
                     "\" is not a number: \"", *(*row)[1], "\""));
  }
  return value;
}

absl::StatusOr<std::unique_ptr<SignalSession>> OpenSession(
    const Dsn& dsn, const ConnectOptions& options, SessionUse use,
    absl::Duration timeout) {
  absl::StatusOr<ConnectionSettings> settings = Settings(dsn, options);
  if (!settings.ok()) return settings.status();
  std::vector<std::string> setup;
  if (use == SessionUse::kHeartbeat) {
    setup = {"SET SESSION innodb_lock_wait_timeout = 1"};
  } else if (use == SessionUse::kReadOnly) {
    setup = kReadOnly;
  }
  return std::make_unique<Session>(*std::move(settings), timeout,
                                   std::move(setup));
}

}  // namespace

const SignalDialect& Signals() {
  static constexpr SignalDialect kDialect = {
      OpenSession,
      kHeartbeat,
      GlobalStatus,
      nullptr,
  };
  return kDialect;
}

}  // namespace backfill::mysql
