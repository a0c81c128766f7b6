#include "backfill/adapters/session_signals.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// The upsert of job `job` (a literal) and the read of its row's age.
std::string UpsertSql(const HeartbeatSql& sql, absl::string_view job) {
  return absl::StrCat("INSERT INTO ", sql.table, " (job, ts) VALUES (", job,
                      ", ", sql.now, ") ", sql.upsert_tail);
}
std::string AgeSql(const HeartbeatSql& sql, absl::string_view job) {
  return absl::StrCat("SELECT ", sql.age_seconds, " FROM ", sql.table,
                      " WHERE job = ", job);
}

class SessionHeartbeat final : public Heartbeat {
 public:
  SessionHeartbeat(std::unique_ptr<SignalSession> session,
                   const HeartbeatSql& sql, std::string job)
      : session_(std::move(session)), sql_(sql), job_(std::move(job)) {}

  absl::Status CreateTable() {
    absl::Status s =
        session_->QueryRow(sql_.create, "cannot create the heartbeat table")
            .status();
    // Another job created it at the same moment.
    return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
  }

  absl::Status Beat() override {
    if (absl::Status s = session_->Connect(); !s.ok()) return s;
    return session_
        ->QueryRow(UpsertSql(sql_, session_->Literal(job_)),
                   "cannot write the heartbeat")
        .status();
  }

 private:
  const std::unique_ptr<SignalSession> session_;
  const HeartbeatSql sql_;
  const std::string job_;
};

class SessionReplicaLag final : public Signal {
 public:
  SessionReplicaLag(std::unique_ptr<SignalSession> session,
                    const HeartbeatSql& sql, std::string replica,
                    std::string job, const LagLimits& limits)
      : session_(std::move(session)),
        sql_(sql),
        name_(absl::StrCat("replication_lag replica=", replica)),
        replica_(std::move(replica)),
        job_(std::move(job)),
        limits_(limits) {}

  SignalSession& session() { return *session_; }
  const std::string& name() const override { return name_; }
  SignalKind kind() const override { return SignalKind::kReplicaLag; }
  std::string subject() const override { return replica_; }

  Reading Read() override {
    if (absl::Status s = session_->Connect(); !s.ok()) {
      return Reading::Unreadable(Message(s));
    }
    absl::StatusOr<SignalRow> row = session_->QueryRow(
        AgeSql(sql_, session_->Literal(job_)), "cannot read the heartbeat");
    if (!row.ok()) return Reading::Unreadable(Message(row.status()));
    double lag = 0;
    if (row->empty() || !(*row)[0].has_value() ||
        !absl::SimpleAtod(*(*row)[0], &lag)) {
      return Reading::Unreadable("no heartbeat row for this job yet");
    }
    return Reading::Ok(lag, absl::ToDoubleSeconds(limits_.max_lag), "s",
                       absl::ToDoubleSeconds(limits_.critical_lag));
  }

 private:
  const std::unique_ptr<SignalSession> session_;
  const HeartbeatSql sql_;
  const std::string name_;
  const std::string replica_;
  const std::string job_;
  const LagLimits limits_;
};

class SessionThrottleQuery final : public Signal {
 public:
  SessionThrottleQuery(std::unique_ptr<SignalSession> session, std::string sql,
                       double threshold)
      : session_(std::move(session)),
        sql_(std::move(sql)),
        threshold_(threshold) {}

  const std::string& name() const override { return name_; }
  SignalKind kind() const override { return SignalKind::kThrottleQuery; }

  // The query's status; `reading` set when it ran.
  absl::Status Query(Reading* reading) {
    absl::StatusOr<SignalRow> row =
        session_->QueryRow(sql_, "throttle query failed");
    if (!row.ok()) return row.status();
    absl::StatusOr<double> value = NumberField(*row, 0, "the query");
    *reading = value.ok() ? Reading::Ok(*value, threshold_)
                          : Reading::Unreadable(Message(value.status()));
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
  const std::unique_ptr<SignalSession> session_;
  const std::string sql_;
  const double threshold_;
};

class SessionProbe final : public Probe {
 public:
  SessionProbe(std::unique_ptr<SignalSession> session, std::string sql)
      : session_(std::move(session)), sql_(std::move(sql)) {}

  absl::Status Run() override {
    return session_->QueryRow(sql_, "probe query failed").status();
  }

 private:
  const std::unique_ptr<SignalSession> session_;
  const std::string sql_;
};

class SessionLoad final : public Signal {
 public:
  SessionLoad(std::unique_ptr<SignalSession> session, const LoadLimit& limit,
              LoadReader read)
      : name_(absl::StrCat("load ", limit.variable)),
        session_(std::move(session)),
        limit_(limit),
        read_(read) {}

  const std::string& name() const override { return name_; }
  SignalKind kind() const override { return SignalKind::kLoad; }
  std::string subject() const override { return limit_.variable; }

  absl::StatusOr<double> Value() { return read_(*session_, limit_); }

  Reading Read() override {
    absl::StatusOr<double> v = Value();
    if (!v.ok()) return Reading::Unreadable(Message(v.status()));
    return Reading::Ok(*v, limit_.max > 0 ? limit_.max : limit_.critical, "",
                       limit_.critical);
  }

 private:
  const std::string name_;
  const std::unique_ptr<SignalSession> session_;
  const LoadLimit limit_;
  const LoadReader read_;
};

}  // namespace

absl::Status RetryAtOpen(const std::function<absl::Status()>& f) {
  absl::Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    s = f();
    if (!absl::IsUnavailable(s)) break;
  }
  return s;
}

absl::Status QueryError(absl::string_view option, const absl::Status& s) {
  if (absl::IsUnavailable(s) || absl::IsUnauthenticated(s)) return s;
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", s.message()));
}

absl::StatusOr<double> NumberField(const SignalRow& row, size_t column,
                                   absl::string_view what) {
  if (row.size() <= column) {
    return absl::InvalidArgumentError(absl::StrCat(what, " returned no row"));
  }
  if (!row[column].has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " returned NULL"));
  }
  double value = 0;
  if (!absl::SimpleAtod(*row[column], &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a number: \"", *row[column], "\""));
  }
  return value;
}

absl::StatusOr<std::unique_ptr<Heartbeat>> OpenSessionHeartbeat(
    std::unique_ptr<SignalSession> session, const HeartbeatSql& sql,
    std::string job) {
  auto heartbeat = std::make_unique<SessionHeartbeat>(std::move(session), sql,
                                                      std::move(job));
  if (absl::Status s = RetryAtOpen([&] { return heartbeat->CreateTable(); });
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<Heartbeat>(std::move(heartbeat));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenSessionReplicaLag(
    std::unique_ptr<SignalSession> session, const HeartbeatSql& sql,
    std::string replica, std::string job, const LagLimits& limits) {
  auto signal = std::make_unique<SessionReplicaLag>(
      std::move(session), sql, std::move(replica), std::move(job), limits);
  absl::Status s = signal->session().Connect();
  if (!s.ok() && !absl::IsUnavailable(s)) return s;
  return std::unique_ptr<Signal>(std::move(signal));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenSessionThrottleQuery(
    std::unique_ptr<SignalSession> session, std::string sql, double threshold) {
  auto signal = std::make_unique<SessionThrottleQuery>(
      std::move(session), std::move(sql), threshold);
  Reading first;
  if (absl::Status s = signal->Query(&first); !s.ok()) {
    return QueryError("throttle_query", s);
  }
  return std::unique_ptr<Signal>(std::move(signal));
}

absl::StatusOr<std::unique_ptr<Probe>> OpenSessionProbe(
    std::unique_ptr<SignalSession> session, std::string sql) {
  auto probe =
      std::make_unique<SessionProbe>(std::move(session), std::move(sql));
  if (absl::Status s = probe->Run(); !s.ok()) {
    return QueryError("probe_query", s);
  }
  return std::unique_ptr<Probe>(std::move(probe));
}

absl::StatusOr<std::unique_ptr<Signal>> OpenSessionLoad(
    std::unique_ptr<SignalSession> session, const LoadLimit& limit,
    LoadReader read) {
  auto signal = std::make_unique<SessionLoad>(std::move(session), limit, read);
  if (absl::StatusOr<double> v = signal->Value(); !v.ok()) {
    return absl::IsPermissionDenied(v.status())
               ? v.status()
               : QueryError("load", v.status());
  }
  return std::unique_ptr<Signal>(std::move(signal));
}

}  // namespace backfill
