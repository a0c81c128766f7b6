#include "backfill/adapters/mysql/mysql_database.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "backfill/adapters/mysql/mysql_catalog.h"
#include "backfill/adapters/mysql/mysql_connection.h"
#include "backfill/adapters/mysql/mysql_sql.h"

namespace backfill {
namespace {

using mysql::KeyLiterals;
using mysql::MysqlConnection;
using mysql::SqlRow;

constexpr char kCheckpointTable[] = "`backfill_checkpoints`";

// The same columns as PostgreSQL's checkpoint table. Keys are EncodeKey JSON
// (binary key columns are walked as hex, so the text is always valid
// utf8mb4). Times are UTC, written and read as microseconds since the epoch
// so that the session time zone never applies. TEXT columns get no DEFAULT
// (MySQL 8 allows only expression defaults on them).
constexpr char kCreateCheckpointTable[] =
    "CREATE TABLE IF NOT EXISTS `backfill_checkpoints` ("
    "job VARCHAR(255) NOT NULL PRIMARY KEY, fingerprint VARCHAR(64) NOT NULL, "
    "spec TEXT NOT NULL, high_water MEDIUMTEXT NULL, last_key MEDIUMTEXT NULL, "
    "rows_estimate BIGINT NOT NULL DEFAULT 0, rows_walked BIGINT NOT NULL "
    "DEFAULT 0, "
    "rows_written BIGINT NOT NULL DEFAULT 0, chunks BIGINT NOT NULL DEFAULT 0, "
    "state VARCHAR(16) NOT NULL, pause_requested BOOLEAN NOT NULL DEFAULT "
    "FALSE, "
    "message TEXT NOT NULL, started_at DATETIME(6) NOT NULL COMMENT 'UTC', "
    "updated_at DATETIME(6) NOT NULL COMMENT 'UTC') "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

// The job lease (backfill/engine/database.h TakeLease): holder and expiry, UTC.
constexpr char kLeaseTable[] = "`backfill_leases`";
constexpr char kCreateLeaseTable[] =
    "CREATE TABLE IF NOT EXISTS `backfill_leases` ("
    "job VARCHAR(255) NOT NULL PRIMARY KEY, holder VARCHAR(255) NOT NULL, "
    "expires_at DATETIME(6) NOT NULL COMMENT 'UTC', "
    "taken_at DATETIME(6) NOT NULL COMMENT 'UTC') "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
// Attempts at the lease row while a dying holder's last chunk locks it
// (each waits innodb_lock_wait_timeout) before the holder is reported.
constexpr int kLeaseAttempts = 3;

std::string ExpirySql(absl::Duration ttl) {
  return absl::StrCat("UTC_TIMESTAMP(6) + INTERVAL ",
                      absl::ToInt64Microseconds(ttl), " MICROSECOND");
}

constexpr char kEpoch[] = "'1970-01-01 00:00:00'";

std::string FromMicros(absl::Time t) {
  const int64_t micros = t == absl::InfinitePast() ? 0 : absl::ToUnixMicros(t);
  return absl::StrCat("(", kEpoch, " + INTERVAL ", micros, " MICROSECOND)");
}

std::string ToMicros(absl::string_view column) {
  return absl::StrCat("TIMESTAMPDIFF(MICROSECOND, ", kEpoch, ", ", column, ")");
}

std::string CheckpointColumns() {
  return absl::StrCat(
      "job, fingerprint, spec, high_water, last_key, rows_estimate, "
      "rows_walked, "
      "rows_written, chunks, state, pause_requested, message, ",
      ToMicros("started_at"), ", ", ToMicros("updated_at"));
}

int64_t Int(const std::optional<std::string>& field) {
  int64_t v = 0;
  if (field.has_value()) (void)absl::SimpleAtoi(*field, &v);
  return v;
}

absl::StatusOr<std::optional<Key>> OptionalKey(
    const std::optional<std::string>& field) {
  if (!field.has_value() || field->empty()) return std::optional<Key>();
  absl::StatusOr<Key> k = DecodeKey(*field);
  if (!k.ok()) return k.status();
  return std::optional<Key>(*std::move(k));
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const SqlRow& r) {
  Checkpoint cp;
  cp.job = r[0].value_or("");
  cp.fingerprint = r[1].value_or("");
  cp.spec = r[2].value_or("");
  absl::StatusOr<std::optional<Key>> high = OptionalKey(r[3]);
  if (!high.ok()) return high.status();
  cp.high_water = *std::move(high);
  absl::StatusOr<std::optional<Key>> last = OptionalKey(r[4]);
  if (!last.ok()) return last.status();
  cp.last_key = *std::move(last);
  cp.rows_estimate = Int(r[5]);
  cp.rows_walked = Int(r[6]);
  cp.rows_written = Int(r[7]);
  cp.chunks = Int(r[8]);
  cp.state = ParseJobState(r[9].value_or(""));
  cp.pause_requested = Int(r[10]) != 0;
  cp.message = r[11].value_or("");
  cp.started_at = absl::FromUnixMicros(Int(r[12]));
  cp.updated_at = absl::FromUnixMicros(Int(r[13]));
  return cp;
}

Key RowToKey(const SqlRow& row) {
  Key key;
  for (const std::optional<std::string>& f : row) key.push_back(f.value_or(""));
  return key;
}

absl::Status NoSuchJob(const std::string& job) {
  return absl::NotFoundError(absl::StrCat("no job named \"", job, "\""));
}

class MysqlDatabase final : public Database {
 public:
  MysqlDatabase(mysql::ConnectionSettings settings,
                absl::Duration statement_timeout)
      : settings_(WithReadTimeout(std::move(settings), statement_timeout)),
        statement_timeout_(statement_timeout) {}

  absl::Status Connect() {
    absl::StatusOr<std::unique_ptr<MysqlConnection>> c =
        MysqlConnection::Open(settings_);
    if (!c.ok()) return c.status();
    if (absl::Status s = BoundStatements(**c); !s.ok()) return s;
    conn_ = *std::move(c);
    lock_wait_seconds_ = 0;  // the connection's default
    return absl::OkStatus();
  }

  // ConnectOptions::statement_timeout's client side: a read or write that
  // hears nothing for the timeout plus kSilenceGrace fails as a lost
  // connection (2013, kUnavailable), which the run redials.
  static mysql::ConnectionSettings WithReadTimeout(mysql::ConnectionSettings s,
                                                   absl::Duration timeout) {
    if (timeout > absl::ZeroDuration()) {
      s.read_timeout_seconds =
          static_cast<unsigned int>(absl::ToInt64Seconds(absl::Ceil(
              timeout + ConnectOptions::kSilenceGrace, absl::Seconds(1))));
    }
    return s;
  }

  // Its server side, on the session (our own connection): MariaDB cancels
  // any statement past it (1969, kAborted: retried smaller) and ends a
  // transaction left idle that long, its client gone, with its locks.
  // MySQL 8.0 has neither: max_execution_time bounds its SELECTs only
  // (untested here), and a vanished client's locks wait for the server to
  // notice the dead connection.
  absl::Status BoundStatements(MysqlConnection& c) const {
    if (statement_timeout_ <= absl::ZeroDuration()) return absl::OkStatus();
    const int64_t seconds = std::max<int64_t>(
        1,
        absl::ToInt64Seconds(absl::Ceil(statement_timeout_, absl::Seconds(1))));
    if (c.Exec(absl::StrCat("SET SESSION max_statement_time = ", seconds,
                            ", SESSION idle_transaction_timeout = ", seconds),
               "")
            .ok()) {
      return absl::OkStatus();
    }
    absl::StatusOr<mysql::ExecResult> r = c.Exec(
        absl::StrCat("SET SESSION max_execution_time = ", seconds * 1000),
        "cannot set up the MySQL session");
    return r.status();
  }

  // ChunkRequest::lock_timeout as innodb_lock_wait_timeout: whole seconds,
  // rounded up, at least 1 (1205 past it: kAborted, retried smaller). Set
  // on the session only when it changes.
  absl::Status SetLockWait(absl::Duration timeout) {
    if (timeout <= absl::ZeroDuration()) return absl::OkStatus();
    const int64_t seconds = std::max<int64_t>(
        1, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))));
    if (seconds == lock_wait_seconds_) return absl::OkStatus();
    absl::StatusOr<mysql::ExecResult> r = conn_->Exec(
        absl::StrCat("SET SESSION innodb_lock_wait_timeout = ", seconds),
        "chunk failed");
    if (!r.ok()) return r.status();
    lock_wait_seconds_ = seconds;
    return absl::OkStatus();
  }

  absl::StatusOr<JobPlan> Prepare(const JobSpec& spec) override {
    if (conn_ == nullptr) return NotConnected("cannot read the schema");
    absl::StatusOr<mysql::MysqlChunkModel> model =
        mysql::ResolveChunkModel(*conn_, spec);
    if (!model.ok()) return model.status();
    model_ = *std::move(model);
    const mysql::MysqlChunkModel& m = *model_;

    // EXPLAIN every statement of a chunk, with NULL bounds: it resolves every
    // name, function and privilege (the PREPARE phase) without reading rows.
    const KeyLiterals nulls(m.key_columns.size(), "NULL");
    std::vector<std::string> checks = {
        mysql::HighWaterSql(m),
        mysql::BoundarySql(m, nullptr, nulls, "0"),
        mysql::BoundarySql(m, &nulls, nulls, "0"),
        mysql::CountSql(m, &nulls, nulls),
        mysql::LockSql(m, &nulls, nulls),
        mysql::WriteSql(m, nullptr, nulls),
        mysql::WriteSql(m, &nulls, nulls)};
    for (const std::string& sql : checks) {
      if (sql.empty()) continue;
      absl::StatusOr<std::vector<SqlRow>> r = conn_->Query(
          absl::StrCat("EXPLAIN ", sql), "the chunk statement does not check");
      if (!r.ok()) return r.status();
    }

    JobPlan plan;
    plan.key_columns = m.key_columns;
    const KeyLiterals shown(m.key_columns.size(), "?");
    plan.chunk_sql.push_back(mysql::BoundarySql(m, &shown, shown, "?"));
    if (std::string lock = mysql::LockSql(m, &shown, shown); !lock.empty()) {
      plan.chunk_sql.push_back(lock);
    }
    plan.chunk_sql.push_back(mysql::WriteSql(m, &shown, shown));
    plan.chunk_sql.push_back(
        AdvanceCheckpointSql("?", "?", "?", "?", "?", "?"));
    plan.chunk_sql.push_back(PauseFlagSql("?"));

    std::vector<std::string> names;
    absl::StatusOr<std::vector<SqlRow>> explain = conn_->QueryWithNames(
        absl::StrCat("EXPLAIN SELECT 1 FROM ", m.walked.qualified),
        "cannot estimate the row count", &names);
    if (!explain.ok()) return explain.status();
    for (size_t i = 0; i < names.size() && !explain->empty(); ++i) {
      if (names[i] == "rows") plan.rows_estimate = Int(explain->front()[i]);
    }
    return plan;
  }

  absl::StatusOr<std::optional<Key>> HighWaterMark() override {
    if (conn_ == nullptr)
      return NotConnected("cannot read the high-water mark");
    if (!model_.has_value()) return NotPrepared();
    absl::StatusOr<std::vector<SqlRow>> r = conn_->Query(
        mysql::HighWaterSql(*model_), "cannot read the high-water mark");
    if (!r.ok()) return r.status();
    if (r->empty()) return std::optional<Key>();
    return std::optional<Key>(RowToKey(r->front()));
  }

  absl::StatusOr<ChunkResult> RunChunk(const ChunkRequest& req) override {
    constexpr char kContext[] = "chunk failed";
    if (conn_ == nullptr) return NotConnected(kContext);
    if (!model_.has_value()) return NotPrepared();
    std::optional<KeyLiterals> lower;
    if (req.after.has_value()) {
      absl::StatusOr<KeyLiterals> l = Literals(*req.after);
      if (!l.ok()) return l.status();
      lower = *std::move(l);
    }
    absl::StatusOr<KeyLiterals> high = Literals(req.high_water);
    if (!high.ok()) return high.status();
    const KeyLiterals* after = lower.has_value() ? &*lower : nullptr;

    if (absl::Status s = SetLockWait(req.lock_timeout); !s.ok()) return s;
    if (absl::StatusOr<mysql::ExecResult> b =
            conn_->Exec("START TRANSACTION", kContext);
        !b.ok()) {
      return b.status();
    }
    // The lease first: a run that lost it commits nothing.
    absl::Status fenced = Fence(kContext);
    absl::StatusOr<ChunkResult> out =
        fenced.ok() ? ChunkInTransaction(req, after, *high)
                    : absl::StatusOr<ChunkResult>(fenced);
    if (!out.ok()) {
      // A deadlock rolled back already; a lock wait timeout rolled back
      // only its statement. Best effort: the connection may be gone.
      (void)conn_->Exec("ROLLBACK", kContext);
      return out.status();
    }
    if (absl::StatusOr<mysql::ExecResult> c = conn_->Exec("COMMIT", kContext);
        !c.ok()) {
      (void)conn_->Exec("ROLLBACK", kContext);
      return c.status();
    }
    return out;
  }

  absl::StatusOr<VerifyResult> VerifyChunk(const ChunkRequest& req,
                                           int show) override {
    constexpr char kContext[] = "verify failed";
    if (conn_ == nullptr) return NotConnected(kContext);
    if (!model_.has_value()) return NotPrepared();
    std::optional<KeyLiterals> lower;
    if (req.after.has_value()) {
      absl::StatusOr<KeyLiterals> l = Literals(*req.after);
      if (!l.ok()) return l.status();
      lower = *std::move(l);
    }
    absl::StatusOr<KeyLiterals> high = Literals(req.high_water);
    if (!high.ok()) return high.status();
    // One snapshot for the bound and the check; nothing is locked or written.
    if (absl::StatusOr<mysql::ExecResult> b =
            conn_->Exec("START TRANSACTION READ ONLY", kContext);
        !b.ok()) {
      return b.status();
    }
    absl::StatusOr<VerifyResult> out = VerifyInTransaction(
        req, lower.has_value() ? &*lower : nullptr, *high, show);
    (void)conn_->Exec(out.ok() ? "COMMIT" : "ROLLBACK", kContext);
    return out;
  }

  absl::StatusOr<std::optional<LeaseHolder>> TakeLease(
      const LeaseClaim& claim) override {
    constexpr char kContext[] = "cannot take the job lease";
    if (conn_ == nullptr) return NotConnected(kContext);
    const std::string job = conn_->Literal(claim.job);
    const std::string holder = conn_->Literal(claim.holder);
    absl::StatusOr<mysql::ExecResult> row = conn_->Exec(
        absl::StrCat("INSERT INTO ", kLeaseTable,
                     " (job, holder, expires_at, taken_at) VALUES (", job, ", ",
                     holder, ", ", ExpirySql(claim.ttl),
                     ", UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE job = job"),
        kContext);
    if (!row.ok()) return row.status();
    for (int attempt = 1; attempt <= kLeaseAttempts; ++attempt) {
      // taken_at first: assignments see the values set before them.
      absl::StatusOr<mysql::ExecResult> take = conn_->Exec(
          absl::StrCat("UPDATE ", kLeaseTable,
                       " SET taken_at = IF(holder = ", holder,
                       ", taken_at, UTC_TIMESTAMP(6)), holder = ", holder,
                       ", expires_at = ", ExpirySql(claim.ttl),
                       " WHERE job = ", job, " AND (holder = ", holder,
                       " OR expires_at < UTC_TIMESTAMP(6) OR holder = ",
                       conn_->Literal(claim.dead_holder), ")"),
          kContext);
      if (take.ok()) break;
      // 1205: the holder's last chunk still holds the row (dying or
      // committing); after a few waits, say who holds it.
      if (!absl::IsAborted(take.status())) return take.status();
    }
    absl::StatusOr<std::vector<SqlRow>> who =
        conn_->Query(absl::StrCat("SELECT holder, TIMESTAMPDIFF(MICROSECOND, "
                                  "UTC_TIMESTAMP(6), expires_at) FROM ",
                                  kLeaseTable, " WHERE job = ", job),
                     kContext);
    if (!who.ok()) return who.status();
    if (!who->empty() && who->front()[0] == claim.holder) {
      lease_ = claim;
      lease_->dead_holder.clear();
      return std::optional<LeaseHolder>();
    }
    LeaseHolder other;
    if (!who->empty()) {
      other.holder = who->front()[0].value_or("");
      other.remaining = absl::Microseconds(Int(who->front()[1]));
    }
    return std::optional<LeaseHolder>(other);
  }

  absl::Status RenewLease() override {
    if (conn_ == nullptr) return NotConnected("cannot renew the job lease");
    return Fence("cannot renew the job lease");
  }

  absl::Status ReleaseLease() override {
    if (!lease_.has_value()) return absl::OkStatus();
    const LeaseClaim claim = *std::move(lease_);
    lease_.reset();
    if (conn_ == nullptr) return NotConnected("cannot release the job lease");
    return conn_
        ->Exec(absl::StrCat("DELETE FROM ", kLeaseTable,
                            " WHERE job = ", conn_->Literal(claim.job),
                            " AND holder = ", conn_->Literal(claim.holder)),
               "cannot release the job lease")
        .status();
  }

  absl::Status EnsureCheckpointTable() override {
    if (conn_ == nullptr)
      return NotConnected("cannot create the checkpoint table");
    for (const char* create : {kCreateCheckpointTable, kCreateLeaseTable}) {
      absl::StatusOr<mysql::ExecResult> r =
          conn_->Exec(create, "cannot create the checkpoint table");
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(
      const std::string& job) override {
    if (conn_ == nullptr)
      return NotConnected("cannot read the checkpoint table");
    absl::StatusOr<std::vector<Checkpoint>> all =
        Checkpoints(absl::StrCat(" WHERE job = ", conn_->Literal(job)));
    if (!all.ok()) return all.status();
    if (all->empty()) return std::optional<Checkpoint>();
    return std::optional<Checkpoint>(std::move(all->front()));
  }

  absl::StatusOr<std::vector<Checkpoint>> ListCheckpoints() override {
    if (conn_ == nullptr)
      return NotConnected("cannot read the checkpoint table");
    return Checkpoints(" ORDER BY job");
  }

  absl::Status SaveCheckpoint(const Checkpoint& cp) override {
    constexpr char kContext[] = "cannot save the checkpoint";
    if (conn_ == nullptr) return NotConnected(kContext);
    auto key = [&](const std::optional<Key>& k) {
      return k.has_value() ? conn_->Literal(EncodeKey(*k))
                           : std::string("NULL");
    };
    // pause_requested is left as it is in the table.
    const std::string upsert = absl::StrCat(
        "INSERT INTO ", kCheckpointTable,
        " (job, fingerprint, spec, high_water, last_key, rows_estimate, "
        "rows_walked, rows_written, chunks, state, message, started_at, "
        "updated_at) VALUES (",
        conn_->Literal(cp.job), ", ", conn_->Literal(cp.fingerprint), ", ",
        conn_->Literal(cp.spec), ", ", key(cp.high_water), ", ",
        key(cp.last_key), ", ", cp.rows_estimate, ", ", cp.rows_walked, ", ",
        cp.rows_written, ", ", cp.chunks, ", ",
        conn_->Literal(JobStateName(cp.state)), ", ",
        conn_->Literal(cp.message), ", ", FromMicros(cp.started_at), ", ",
        FromMicros(cp.updated_at),
        ") ON DUPLICATE KEY UPDATE fingerprint = VALUES(fingerprint), "
        "spec = VALUES(spec), high_water = VALUES(high_water), "
        "last_key = VALUES(last_key), rows_estimate = VALUES(rows_estimate), "
        "rows_walked = VALUES(rows_walked), rows_written = "
        "VALUES(rows_written), chunks = VALUES(chunks), state = "
        "VALUES(state), message = VALUES(message), started_at = "
        "VALUES(started_at), updated_at = VALUES(updated_at)");
    if (!lease_.has_value()) return conn_->Exec(upsert, kContext).status();
    // Fenced by the lease: a run that lost it writes nothing over the
    // checkpoint of the run that took it.
    if (absl::StatusOr<mysql::ExecResult> b =
            conn_->Exec("START TRANSACTION", kContext);
        !b.ok()) {
      return b.status();
    }
    absl::Status saved = Fence(kContext);
    if (saved.ok()) saved = conn_->Exec(upsert, kContext).status();
    if (saved.ok()) saved = conn_->Exec("COMMIT", kContext).status();
    if (!saved.ok()) (void)conn_->Exec("ROLLBACK", kContext);
    return saved;
  }

  absl::Status SetPauseRequested(const std::string& job, bool paused) override {
    constexpr char kContext[] = "cannot set the pause flag";
    if (conn_ == nullptr) return NotConnected(kContext);
    absl::StatusOr<bool> exists = CheckpointTableExists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return NoSuchJob(job);
    const std::string where =
        absl::StrCat(" WHERE job = ", conn_->Literal(job));
    absl::StatusOr<std::vector<SqlRow>> found = conn_->Query(
        absl::StrCat("SELECT count(*) FROM ", kCheckpointTable, where),
        kContext);
    if (!found.ok()) return found.status();
    if (Int(found->at(0)[0]) == 0) return NoSuchJob(job);
    return conn_
        ->Exec(
            absl::StrCat("UPDATE ", kCheckpointTable,
                         " SET pause_requested = ", paused ? "TRUE" : "FALSE",
                         ", updated_at = UTC_TIMESTAMP(6)", where),
            kContext)
        .status();
  }

  absl::Status Reconnect() override {
    conn_.reset();
    return Connect();
  }

 private:
  // Renews the lease (in the current transaction, if any): one row changed,
  // or none when another holder has it. OK when no lease is held.
  absl::Status Fence(absl::string_view context) {
    if (!lease_.has_value()) return absl::OkStatus();
    absl::StatusOr<mysql::ExecResult> r = conn_->Exec(
        absl::StrCat("UPDATE ", kLeaseTable,
                     " SET expires_at = ", ExpirySql(lease_->ttl),
                     " WHERE job = ", conn_->Literal(lease_->job),
                     " AND holder = ", conn_->Literal(lease_->holder)),
        context);
    if (!r.ok()) return r.status();
    if (r->affected_rows != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job \"", lease_->job,
          "\": another backfill process took over its lease (this run was "
          "stalled past it); stopping without committing"));
    }
    return absl::OkStatus();
  }

  static absl::Status NotConnected(absl::string_view context) {
    return absl::UnavailableError(absl::StrCat(context, ": not connected"));
  }

  static absl::Status NotPrepared() {
    return absl::FailedPreconditionError(
        "the job was not prepared (call Prepare first)");
  }

  static std::string AdvanceCheckpointSql(absl::string_view job,
                                          absl::string_view last_key,
                                          absl::string_view rows_walked,
                                          absl::string_view rows_written,
                                          absl::string_view state,
                                          absl::string_view message) {
    return absl::StrCat(
        "UPDATE ", kCheckpointTable, " SET last_key = ", last_key,
        ", rows_walked = rows_walked + ", rows_walked,
        ", rows_written = rows_written + ", rows_written,
        ", chunks = chunks + 1, state = ", state, ", message = ", message,
        ", updated_at = UTC_TIMESTAMP(6) WHERE job = ", job);
  }

  // A locking read: it sees a pause committed by another session after this
  // transaction's snapshot was taken.
  static std::string PauseFlagSql(absl::string_view job) {
    return absl::StrCat("SELECT pause_requested FROM ", kCheckpointTable,
                        " WHERE job = ", job, " FOR UPDATE");
  }

  absl::StatusOr<KeyLiterals> Literals(const Key& key) const {
    if (key.size() != model_->key_kinds.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the checkpoint's key has ", key.size(),
                       " columns, the walked key ", model_->key_kinds.size()));
    }
    KeyLiterals out;
    for (size_t i = 0; i < key.size(); ++i) {
      absl::StatusOr<std::string> l = mysql::KeyLiteral(
          model_->key_kinds[i], key[i], conn_->no_backslash_escapes());
      if (!l.ok()) return l.status();
      out.push_back(*std::move(l));
    }
    return out;
  }

  // The chunk's inclusive upper bound: the key `req.rows` rows past
  // `after`, or the high-water mark when fewer rows remain.
  struct Bound {
    Key upper;
    KeyLiterals literals;  // of `upper`
    int64_t rows_walked = 0;
    bool last = false;
  };
  absl::StatusOr<Bound> FindUpper(const ChunkRequest& req,
                                  const KeyLiterals* after,
                                  const KeyLiterals& high,
                                  absl::string_view context) {
    const mysql::MysqlChunkModel& m = *model_;
    Bound out;
    absl::StatusOr<std::vector<SqlRow>> b = conn_->Query(
        mysql::BoundarySql(m, after, high,
                           absl::StrCat(std::max<int64_t>(req.rows, 1) - 1)),
        context);
    if (!b.ok()) return b.status();
    if (!b->empty()) {
      out.upper = RowToKey(b->front());
      out.rows_walked = req.rows;
      out.last = out.upper == req.high_water;
      absl::StatusOr<KeyLiterals> u = Literals(out.upper);
      if (!u.ok()) return u.status();
      out.literals = *std::move(u);
      return out;
    }
    // Fewer than `rows` rows remain: this chunk runs to the high-water.
    absl::StatusOr<std::vector<SqlRow>> c =
        conn_->Query(mysql::CountSql(m, after, high), context);
    if (!c.ok()) return c.status();
    out.upper = req.high_water;
    out.literals = high;
    out.rows_walked = Int(c->at(0)[0]);
    out.last = true;
    return out;
  }

  absl::StatusOr<VerifyResult> VerifyInTransaction(const ChunkRequest& req,
                                                   const KeyLiterals* after,
                                                   const KeyLiterals& high,
                                                   int show) {
    constexpr char kContext[] = "verify failed";
    VerifyResult out;
    absl::StatusOr<Bound> bound = FindUpper(req, after, high, kContext);
    if (!bound.ok()) return bound.status();
    out.upper = bound->upper;
    out.rows_walked = bound->rows_walked;
    out.last = bound->last;
    absl::StatusOr<std::vector<SqlRow>> rows = conn_->Query(
        mysql::VerifySql(*model_, after, bound->literals, show), kContext);
    if (!rows.ok()) return rows.status();
    const size_t keys = model_->key_columns.size();
    for (SqlRow& row : *rows) {
      out.mismatched = Int(row[keys]);
      out.missing = Int(row[keys + 1]);
      if (static_cast<int>(out.sample.size()) >= show) continue;
      row.resize(keys);
      out.sample.push_back(RowToKey(row));
    }
    return out;
  }

  absl::StatusOr<ChunkResult> ChunkInTransaction(const ChunkRequest& req,
                                                 const KeyLiterals* after,
                                                 const KeyLiterals& high) {
    constexpr char kContext[] = "chunk failed";
    const mysql::MysqlChunkModel& m = *model_;
    ChunkResult out;
    absl::StatusOr<Bound> bound = FindUpper(req, after, high, kContext);
    if (!bound.ok()) return bound.status();
    out.upper = bound->upper;
    out.rows_walked = bound->rows_walked;
    out.last = bound->last;
    const KeyLiterals& upper = bound->literals;
    if (std::string lock = mysql::LockSql(m, after, upper); !lock.empty()) {
      absl::StatusOr<std::vector<SqlRow>> l = conn_->Query(lock, kContext);
      if (!l.ok()) return l.status();
    }
    absl::StatusOr<mysql::ExecResult> w =
        conn_->Exec(mysql::WriteSql(m, after, upper), kContext);
    if (!w.ok()) return w.status();
    out.rows_written = static_cast<int64_t>(w->affected_rows);
    if (m.shape == Shape::kCopy) {
      std::optional<int64_t> written =
          mysql::CopyRowsWritten(w->affected_rows, w->info);
      if (!written.has_value()) {
        return absl::InternalError(
            absl::StrCat(kContext, ": cannot count the rows written from \"",
                         w->info, "\""));
      }
      out.rows_written = *written;
    }
    const std::string job = conn_->Literal(req.job);
    absl::StatusOr<mysql::ExecResult> ck = conn_->Exec(
        AdvanceCheckpointSql(
            job, conn_->Literal(EncodeKey(out.upper)),
            absl::StrCat(out.rows_walked), absl::StrCat(out.rows_written),
            conn_->Literal(
                JobStateName(out.last ? JobState::kDone : JobState::kRunning)),
            conn_->Literal(req.message)),
        kContext);
    if (!ck.ok()) return ck.status();
    absl::StatusOr<std::vector<SqlRow>> pause =
        conn_->Query(PauseFlagSql(job), kContext);
    if (!pause.ok()) return pause.status();
    if (pause->empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the checkpoint row of job \"", req.job, "\" disappeared"));
    }
    out.pause_requested = Int(pause->front()[0]) != 0;
    return out;
  }

  absl::StatusOr<bool> CheckpointTableExists() {
    absl::StatusOr<std::vector<SqlRow>> r = conn_->Query(
        "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
        "DATABASE() "
        "AND TABLE_NAME = 'backfill_checkpoints'",
        "cannot read the checkpoint table");
    if (!r.ok()) return r.status();
    return Int(r->at(0)[0]) > 0;
  }

  absl::StatusOr<std::vector<Checkpoint>> Checkpoints(const std::string& tail) {
    std::vector<Checkpoint> out;
    absl::StatusOr<bool> exists = CheckpointTableExists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return out;
    absl::StatusOr<std::vector<SqlRow>> rows =
        conn_->Query(absl::StrCat("SELECT ", CheckpointColumns(), " FROM ",
                                  kCheckpointTable, tail),
                     "cannot read the checkpoint table");
    if (!rows.ok()) return rows.status();
    for (const SqlRow& row : *rows) {
      absl::StatusOr<Checkpoint> cp = ReadCheckpoint(row);
      if (!cp.ok()) return cp.status();
      out.push_back(*std::move(cp));
    }
    return out;
  }

  const mysql::ConnectionSettings settings_;
  const absl::Duration statement_timeout_;  // zero: unbounded
  std::unique_ptr<MysqlConnection> conn_;
  std::optional<mysql::MysqlChunkModel> model_;
  int64_t lock_wait_seconds_ = 0;  // set on the session; 0 = its default
  // The lease TakeLease took: fences RunChunk and SaveCheckpoint.
  std::optional<LeaseClaim> lease_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenMysql(
    const Dsn& dsn, const ConnectOptions& options) {
  absl::StatusOr<mysql::ConnectionSettings> settings =
      mysql::SettingsFromDsn(dsn, options);
  if (!settings.ok()) return settings.status();
  auto db = std::make_unique<MysqlDatabase>(*std::move(settings),
                                            options.statement_timeout);
  if (absl::Status s = db->Connect(); !s.ok()) return s;
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace backfill
