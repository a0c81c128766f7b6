#include "backfill/adapters/postgres/postgres_database.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "backfill/adapters/postgres/pg_catalog.h"
#include "backfill/adapters/postgres/pg_conninfo.h"
#include "backfill/adapters/postgres/pg_errors.h"
#include "backfill/adapters/postgres/pg_sql.h"
#include "backfill/adapters/postgres/silence_watchdog.h"

// libpqxx 6 marks inhibit_reactivation deprecated, but without it a broken
// connection silently reconnects and retries, which the engine must see as
// kUnavailable instead (a chunk's transaction may have been lost).
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

// Nothing this adapter does outlives its transaction on the server session:
// through a transaction pooler (PgBouncer pool_mode = transaction) each
// transaction may run on another server connection, which the application
// uses next. So there are no session SETs (every setting is SET LOCAL in the
// transaction that needs it), no named prepared statements (statements run
// as unnamed ones, PQexecParams, parsed and planned per execution), no
// session advisory lock (the job lease is a row), no temporary objects.

namespace backfill {
namespace {

constexpr char kCheckpointTable[] = "backfill_checkpoints";
constexpr char kLeaseTable[] = "backfill_leases";
// How long a chunk may wait for the lease row that a dying holder's last
// chunk still locks, per attempt, before the holder is reported instead.
constexpr int kLeaseLockTimeoutMs = 2000;
constexpr int kLeaseAttempts = 3;

constexpr char kCheckpointColumns[] =
    "job, fingerprint, spec, coalesce(high_water, ''), coalesce(last_key, ''), "
    "rows_estimate, rows_walked, rows_written, chunks, state, pause_requested, "
    "message, (extract(epoch from started_at) * 1000000)::bigint, "
    "(extract(epoch from updated_at) * 1000000)::bigint";

std::string CreateCheckpointTableSql() {
  return absl::StrCat(
      "CREATE TABLE IF NOT EXISTS ", kCheckpointTable,
      " (job text PRIMARY KEY, fingerprint text NOT NULL, spec text NOT NULL, "
      "high_water text, last_key text, rows_estimate bigint NOT NULL DEFAULT "
      "0, "
      "rows_walked bigint NOT NULL DEFAULT 0, rows_written bigint NOT NULL "
      "DEFAULT 0, "
      "chunks bigint NOT NULL DEFAULT 0, state text NOT NULL, "
      "pause_requested boolean NOT NULL DEFAULT false, message text NOT NULL "
      "DEFAULT '', "
      "started_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)");
}

std::string CreateLeaseTableSql() {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", kLeaseTable,
                      " (job text PRIMARY KEY, holder text NOT NULL, "
                      "expires_at timestamptz NOT NULL, "
                      "taken_at timestamptz NOT NULL)");
}

// The expiry of a lease taken or renewed now, by the server's clock.
std::string ExpirySql(absl::Duration ttl) {
  return absl::StrCat("now() + ", absl::ToInt64Microseconds(ttl),
                      " * interval '1 microsecond'");
}

std::string AdvanceCheckpointSql() {
  return absl::StrCat(
      "UPDATE ", kCheckpointTable,
      " SET last_key = $2, rows_walked = rows_walked + $3::bigint, "
      "rows_written = rows_written + $4::bigint, chunks = chunks + 1, state = "
      "$5, "
      "message = $6, updated_at = now() WHERE job = $1 RETURNING "
      "pause_requested");
}

absl::StatusOr<std::optional<Key>> OptionalKey(const pqxx::field& f) {
  if (f.is_null() || f.size() == 0) return std::optional<Key>();
  absl::StatusOr<Key> k = DecodeKey(f.c_str());
  if (!k.ok()) return k.status();
  return std::optional<Key>(*std::move(k));
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const pqxx::row& r) {
  Checkpoint cp;
  cp.job = r[0].c_str();
  cp.fingerprint = r[1].c_str();
  cp.spec = r[2].c_str();
  absl::StatusOr<std::optional<Key>> high = OptionalKey(r[3]);
  if (!high.ok()) return high.status();
  cp.high_water = *std::move(high);
  absl::StatusOr<std::optional<Key>> last = OptionalKey(r[4]);
  if (!last.ok()) return last.status();
  cp.last_key = *std::move(last);
  cp.rows_estimate = r[5].as<int64_t>();
  cp.rows_walked = r[6].as<int64_t>();
  cp.rows_written = r[7].as<int64_t>();
  cp.chunks = r[8].as<int64_t>();
  cp.state = ParseJobState(r[9].c_str());
  cp.pause_requested = r[10].as<bool>();
  cp.message = r[11].c_str();
  cp.started_at = absl::FromUnixMicros(r[12].as<int64_t>());
  cp.updated_at = absl::FromUnixMicros(r[13].as<int64_t>());
  return cp;
}

std::string EncodeOptionalKey(const std::optional<Key>& key) {
  return key.has_value() ? EncodeKey(*key) : "";
}

Key RowToKey(const pqxx::row& row) {
  Key key;
  key.reserve(row.size());
  for (const pqxx::field& f : row) key.emplace_back(f.c_str(), f.size());
  return key;
}

void Append(std::vector<std::string>* params, const Key& key) {
  params->insert(params->end(), key.begin(), key.end());
}

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(pg::ConnectTarget target, absl::Duration statement_timeout)
      : target_(std::move(target)), statement_timeout_(statement_timeout) {}

  absl::Status Connect() {
    try {
      conn_ = std::make_unique<pqxx::connection>(target_.conninfo);
      conn_->inhibit_reactivation(true);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      conn_.reset();
      return pg::MapPgError(e, "cannot connect to PostgreSQL", target_.secret);
    }
  }

  absl::StatusOr<JobPlan> Prepare(const JobSpec& spec) override {
    if (absl::Status s = CheckTransactions(); !s.ok()) return s;
    absl::StatusOr<pg::PgChunkModel> model;
    absl::Status s = Try("cannot read the schema", [&] {
      pqxx::nontransaction tx(*conn_);
      model = pg::ResolveChunkModel(tx, spec);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (!model.ok()) return model.status();
    statements_ = pg::RenderPgStatements(*model);
    key_size_ = model->key_columns.size();
    has_lock_ = !statements_->lock_next.empty();

    // PREPARE type-checks every expression of every statement without
    // running it; DEALLOCATE in the same transaction, so no statement is
    // left on a pooled server connection.
    s = Try("the chunk statement does not check", [&] {
      pqxx::work tx(*conn_);
      for (const std::string* sql :
           {&statements_->high_water, &statements_->boundary_first,
            &statements_->boundary_next, &statements_->count_first,
            &statements_->count_next, &statements_->lock_first,
            &statements_->lock_next, &statements_->write_first,
            &statements_->write_next, &statements_->verify_first,
            &statements_->verify_next}) {
        if (sql->empty()) continue;
        tx.exec(absl::StrCat("PREPARE backfill_check AS ", *sql));
        tx.exec("DEALLOCATE backfill_check");
      }
      return absl::OkStatus();  // rolled back
    });
    if (!s.ok()) return s;

    JobPlan plan;
    if (model->shape == Shape::kJoin) {
      absl::StatusOr<std::optional<bool>> indexed = IndexedJoinPlan();
      if (!indexed.ok()) return indexed.status();
      if (indexed->value_or(false)) {
        nested_loop_join_ = true;
      } else if (indexed->has_value()) {
        plan.notes.push_back(absl::StrCat("the `on` lookup into ",
                                          model->source->qualified,
                                          " uses no index (EXPLAIN of a chunk "
                                          "reads a whole table), so chunks "
                                          "may slow down as it grows; an index "
                                          "on its join columns avoids that"));
      }
    }
    for (const std::string& k : model->key_columns)
      plan.key_columns.push_back(k);
    plan.chunk_sql.push_back(statements_->boundary_next);
    if (has_lock_) plan.chunk_sql.push_back(statements_->lock_next);
    plan.chunk_sql.push_back(statements_->write_next);
    plan.chunk_sql.push_back(AdvanceCheckpointSql());
    s = Try("cannot estimate the row count", [&] {
      pqxx::nontransaction tx(*conn_);
      pqxx::result r = tx.exec(
          absl::StrCat("EXPLAIN SELECT 1 FROM ", model->walked.qualified));
      std::string line = r[0][0].c_str();
      size_t at = line.find("rows=");
      if (at != std::string::npos) {
        std::string digits;
        for (size_t i = at + 5; i < line.size() && isdigit(line[i]); ++i)
          digits += line[i];
        (void)absl::SimpleAtoi(digits, &plan.rows_estimate);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return plan;
  }

  absl::StatusOr<std::optional<Key>> HighWaterMark() override {
    std::optional<Key> key;
    absl::Status s = Try("cannot read the high-water mark", [&] {
      pqxx::nontransaction tx(*conn_);
      pqxx::result r = tx.exec(statements_->high_water);
      if (!r.empty()) key = RowToKey(r[0]);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return key;
  }

  absl::StatusOr<ChunkResult> RunChunk(const ChunkRequest& req) override {
    ChunkResult out;
    absl::Status s = Try("chunk failed", [&] {
      const bool next = req.after.has_value();
      pqxx::work tx(*conn_);
      // One round trip: the chunk's settings, then the lease (fenced and
      // renewed first, so a run that lost it commits nothing).
      pqxx::result setup = tx.exec(ChunkSetupSql(tx, req.lock_timeout));
      if (lease_.has_value() && setup.affected_rows() != 1) return LeaseLost();
      Bound bound = FindUpper(tx, req);
      out.upper = bound.upper;
      out.rows_walked = bound.rows_walked;
      out.last = bound.last;
      std::vector<std::string> params = RangeParams(req.after, out.upper);
      if (has_lock_) {
        tx.exec_params(next ? statements_->lock_next : statements_->lock_first,
                       pqxx::prepare::make_dynamic_params(params));
      }
      pqxx::result w = tx.exec_params(
          next ? statements_->write_next : statements_->write_first,
          pqxx::prepare::make_dynamic_params(params));
      out.rows_written = w.affected_rows();
      pqxx::result ck = tx.exec_params(
          AdvanceCheckpointSql(), req.job, EncodeKey(out.upper),
          out.rows_walked, out.rows_written,
          std::string(
              JobStateName(out.last ? JobState::kDone : JobState::kRunning)),
          req.message);
      if (ck.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the checkpoint row of job \"", req.job, "\" disappeared"));
      }
      out.pause_requested = ck[0][0].as<bool>();
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<VerifyResult> VerifyChunk(const ChunkRequest& req,
                                           int show) override {
    VerifyResult out;
    absl::Status s = Try("verify failed", [&] {
      pqxx::read_transaction tx(*conn_);
      if (statement_timeout_ > absl::ZeroDuration()) tx.exec(TimeoutsSql());
      if (nested_loop_join_) tx.exec(NestedLoopJoinSql());
      Bound bound = FindUpper(tx, req);
      out.upper = bound.upper;
      out.rows_walked = bound.rows_walked;
      out.last = bound.last;
      std::vector<std::string> params = RangeParams(req.after, out.upper);
      params.push_back(absl::StrCat(std::max(show, 1)));
      pqxx::result r =
          tx.exec_params(req.after.has_value() ? statements_->verify_next
                                               : statements_->verify_first,
                         pqxx::prepare::make_dynamic_params(params));
      const auto keys = static_cast<pqxx::row::size_type>(key_size_);
      for (const pqxx::row& row : r) {
        out.mismatched = row[keys].as<int64_t>();
        out.missing = row[keys + 1].as<int64_t>();
        if (static_cast<int>(out.sample.size()) >= show) continue;
        Key key;
        for (pqxx::row::size_type i = 0; i < keys; ++i) {
          key.emplace_back(row[i].c_str(), row[i].size());
        }
        out.sample.push_back(std::move(key));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<std::optional<LeaseHolder>> TakeLease(
      const LeaseClaim& claim) override {
    std::optional<LeaseHolder> other;
    absl::Status s = Try("cannot take the job lease", [&] {
      for (int attempt = 1;; ++attempt) {
        try {
          pqxx::work tx(*conn_);
          tx.exec(
              absl::StrCat("SET LOCAL lock_timeout = ", kLeaseLockTimeoutMs));
          pqxx::result r = tx.exec_params(
              absl::StrCat(
                  "INSERT INTO ", kLeaseTable,
                  " AS l (job, holder, expires_at, taken_at) VALUES ($1, $2, ",
                  ExpirySql(claim.ttl),
                  ", now()) ON CONFLICT (job) DO UPDATE SET holder = "
                  "EXCLUDED.holder, expires_at = EXCLUDED.expires_at, "
                  "taken_at = CASE WHEN l.holder = EXCLUDED.holder THEN "
                  "l.taken_at ELSE EXCLUDED.taken_at END WHERE l.holder = "
                  "EXCLUDED.holder OR l.expires_at < now() OR l.holder = $3 "
                  "RETURNING 1"),
              claim.job, claim.holder, claim.dead_holder);
          tx.commit();
          if (!r.empty()) {
            lease_ = claim;
            lease_->dead_holder.clear();
            return absl::OkStatus();
          }
          break;
        } catch (const pqxx::sql_error& e) {
          // 55P03: the holder's last chunk still holds the row (it is dying
          // or committing). Wait a little, then say who holds it.
          if (e.sqlstate() != "55P03") throw;
          if (attempt >= kLeaseAttempts) break;
        }
      }
      pqxx::nontransaction tx(*conn_);  // a plain read waits for no lock
      pqxx::result r = tx.exec_params(
          absl::StrCat("SELECT holder, (extract(epoch FROM expires_at - now()) "
                       "* 1000000)::bigint FROM ",
                       kLeaseTable, " WHERE job = $1"),
          claim.job);
      other =
          LeaseHolder{r.empty() ? "" : r[0][0].c_str(),
                      r.empty() ? absl::ZeroDuration()
                                : absl::Microseconds(r[0][1].as<int64_t>())};
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return other;
  }

  absl::Status RenewLease() override {
    return Try("cannot renew the job lease", [&] {
      if (!lease_.has_value()) return absl::OkStatus();
      pqxx::nontransaction tx(*conn_);
      if (tx.exec(FenceSql(tx)).affected_rows() != 1) return LeaseLost();
      return absl::OkStatus();
    });
  }

  absl::Status ReleaseLease() override {
    if (!lease_.has_value()) return absl::OkStatus();
    const LeaseClaim claim = *std::move(lease_);
    lease_.reset();
    return Try("cannot release the job lease", [&] {
      pqxx::nontransaction tx(*conn_);
      tx.exec_params(absl::StrCat("DELETE FROM ", kLeaseTable,
                                  " WHERE job = $1 AND holder = $2"),
                     claim.job, claim.holder);
      return absl::OkStatus();
    });
  }

  absl::Status EnsureCheckpointTable() override {
    for (const std::string& create :
         {CreateCheckpointTableSql(), CreateLeaseTableSql()}) {
      absl::Status s = Try("cannot create the checkpoint table", [&] {
        try {
          pqxx::work tx(*conn_);
          // No NOTICE when it exists.
          tx.exec(absl::StrCat("SET LOCAL client_min_messages = warning; ",
                               create));
          tx.commit();
        } catch (const pqxx::unique_violation&) {
          // Another job created it at the same moment.
        }
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(
      const std::string& job) override {
    absl::StatusOr<std::vector<Checkpoint>> all = Query(" WHERE job = $1", job);
    if (!all.ok()) return all.status();
    if (all->empty()) return std::optional<Checkpoint>();
    return std::optional<Checkpoint>(std::move(all->front()));
  }

  absl::StatusOr<std::vector<Checkpoint>> ListCheckpoints() override {
    return Query(" ORDER BY job", std::nullopt);
  }

  absl::Status SaveCheckpoint(const Checkpoint& cp) override {
    return Try("cannot save the checkpoint", [&] {
      pqxx::work tx(*conn_);
      if (lease_.has_value() && tx.exec(FenceSql(tx)).affected_rows() != 1) {
        return LeaseLost();
      }
      tx.exec_params(
          absl::StrCat(
              "INSERT INTO ", kCheckpointTable,
              " (job, fingerprint, spec, high_water, last_key, rows_estimate, "
              "rows_walked, rows_written, chunks, state, message, started_at, "
              "updated_at) "
              "VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7, $8, "
              "$9, $10, $11, "
              "to_timestamp($12::float8 / 1000000), to_timestamp($13::float8 / "
              "1000000)) "
              "ON CONFLICT (job) DO UPDATE SET fingerprint = "
              "EXCLUDED.fingerprint, "
              "spec = EXCLUDED.spec, high_water = EXCLUDED.high_water, "
              "last_key = EXCLUDED.last_key, rows_estimate = "
              "EXCLUDED.rows_estimate, "
              "rows_walked = EXCLUDED.rows_walked, rows_written = "
              "EXCLUDED.rows_written, "
              "chunks = EXCLUDED.chunks, state = EXCLUDED.state, message = "
              "EXCLUDED.message, "
              "started_at = EXCLUDED.started_at, updated_at = "
              "EXCLUDED.updated_at"),
          cp.job, cp.fingerprint, cp.spec, EncodeOptionalKey(cp.high_water),
          EncodeOptionalKey(cp.last_key), cp.rows_estimate, cp.rows_walked,
          cp.rows_written, cp.chunks, std::string(JobStateName(cp.state)),
          cp.message, absl::ToUnixMicros(cp.started_at),
          absl::ToUnixMicros(cp.updated_at));
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::Status SetPauseRequested(const std::string& job, bool paused) override {
    return Try("cannot set the pause flag", [&] {
      pqxx::nontransaction tx(*conn_);
      if (!CheckpointTableExists(tx)) return NoSuchJob(job);
      pqxx::result r = tx.exec_params(
          absl::StrCat(
              "UPDATE ", kCheckpointTable,
              " SET pause_requested = $2, updated_at = now() WHERE job = $1"),
          job, paused);
      if (r.affected_rows() == 0) return NoSuchJob(job);
      return absl::OkStatus();
    });
  }

  absl::Status Reconnect() override {
    conn_.reset();
    return Connect();
  }

 private:
  // Renews the lease in the current transaction: one row updated, or none
  // when another holder has it.
  std::string FenceSql(pqxx::transaction_base& tx) const {
    return absl::StrCat("UPDATE ", kLeaseTable,
                        " SET expires_at = ", ExpirySql(lease_->ttl),
                        " WHERE job = ", tx.quote(lease_->job),
                        " AND holder = ", tx.quote(lease_->holder));
  }

  // The settings of a chunk's transaction, all SET LOCAL, then the lease
  // fence (when a lease is held), as one multi-statement string.
  std::string ChunkSetupSql(pqxx::transaction_base& tx,
                            absl::Duration lock_timeout) const {
    // A chunk's commit need not wait for its WAL flush: data and checkpoint
    // commit in one transaction, so a server crash can only roll back the
    // last few chunks together with their checkpoints, and the resume
    // redoes them (idempotently). Any application commit that follows ours
    // flushes the WAL past our commit record anyway. Saves one fsync per
    // chunk (about 4% of a 500ms chunk on this machine).
    std::string sql = "SET LOCAL synchronous_commit = off";
    if (statement_timeout_ > absl::ZeroDuration()) {
      absl::StrAppend(&sql, "; ", TimeoutsSql());
    }
    if (lock_timeout > absl::ZeroDuration()) {
      // A lock wait past it fails with 55P03 (kAborted): retried smaller.
      absl::StrAppend(
          &sql, "; SET LOCAL lock_timeout = ",
          std::max<int64_t>(1, absl::ToInt64Milliseconds(lock_timeout)));
    }
    if (nested_loop_join_) absl::StrAppend(&sql, "; ", NestedLoopJoinSql());
    if (lease_.has_value()) absl::StrAppend(&sql, "; ", FenceSql(tx));
    return sql;
  }

  // ConnectOptions::statement_timeout's server side, for one transaction:
  // a statement past it is cancelled (57014, kAborted: retried smaller),
  // and the transaction is ended if its client leaves it idle that long
  // (the client vanished: its locks must not outlive it). Only with a
  // statement timeout.
  std::string TimeoutsSql() const {
    const int64_t ms =
        std::max<int64_t>(1, absl::ToInt64Milliseconds(statement_timeout_));
    return absl::StrCat(
        "SET LOCAL statement_timeout = ", ms,
        "; SET LOCAL idle_in_transaction_session_timeout = ", ms);
  }

  absl::Status LeaseLost() const {
    return absl::FailedPreconditionError(absl::StrCat(
        "job \"", lease_->job,
        "\": another backfill process took over its lease (this run was "
        "stalled past it); stopping without committing"));
  }

  // Every chunk is a transaction of several statements (its data and its
  // checkpoint commit together). A pooler in statement mode allows none:
  // say so before anything is written.
  absl::Status CheckTransactions() {
    absl::Status s = Try("cannot run a transaction", [&] {
      pqxx::work tx(*conn_);
      tx.exec("SELECT 1");
      tx.commit();
      return absl::OkStatus();
    });
    if (s.ok() || !absl::IsUnavailable(s)) return s;
    const std::string refusal = pg::TransactionRefusal(target_.conninfo);
    if (!absl::StrContains(refusal, "pooling mode")) return s;
    return absl::FailedPreconditionError(
        "the connection goes through a pooler in statement pooling mode "
        "(PgBouncer pool_mode = statement), which allows no transaction of "
        "several statements, and each chunk commits its data and its "
        "checkpoint in one: connect through a pool in transaction or session "
        "mode (pool_mode = transaction), or to the server itself");
  }

  struct Bound {
    Key upper;
    int64_t rows_walked = 0;
    bool last = false;
  };

  // The chunk's inclusive upper bound: the key `rows` rows past `after` on
  // the key's index, or the high-water mark when fewer rows remain.
  Bound FindUpper(pqxx::transaction_base& tx, const ChunkRequest& req) {
    const bool next = req.after.has_value();
    std::vector<std::string> params = RangeParams(req.after, req.high_water);
    const size_t range_params = params.size();
    params.push_back(absl::StrCat(std::max<int64_t>(req.rows, 1) - 1));
    Bound bound;
    pqxx::result b = tx.exec_params(
        next ? statements_->boundary_next : statements_->boundary_first,
        pqxx::prepare::make_dynamic_params(params));
    if (!b.empty()) {
      bound.upper = RowToKey(b[0]);
      bound.rows_walked = req.rows;
      bound.last = bound.upper == req.high_water;
      return bound;
    }
    params.resize(range_params);
    pqxx::result c = tx.exec_params(
        next ? statements_->count_next : statements_->count_first,
        pqxx::prepare::make_dynamic_params(params));
    bound.upper = req.high_water;
    bound.rows_walked = c[0][0].as<int64_t>();
    bound.last = true;
    return bound;
  }

  // Join shape. The planner prices a chunk's source lookups as if they all
  // went to disk, so past a few thousand rows per chunk it hashes (or sorts)
  // the whole source table instead, once per chunk: a chunk's cost then grows
  // with the source table (4M rows: about 3x slower per row than index
  // lookups, where the one-shot UPDATE's single hash is cheap). With hash and
  // merge joins off, every chunk joins by nested loop, which is only right
  // when an index finds the source rows. Returns whether the nested-loop
  // plan of a typical chunk (kProbeRows rows from the start) reads no table
  // whole; nullopt when the walked table has no more rows than that (too
  // small to matter). Changes no setting (LOCAL, rolled back).
  absl::StatusOr<std::optional<bool>> IndexedJoinPlan() {
    constexpr int64_t kProbeRows = 10000;
    std::optional<bool> indexed;
    absl::Status s = Try("cannot plan the join", [&] {
      pqxx::work tx(*conn_);
      tx.exec(NestedLoopJoinSql());
      pqxx::result hw = tx.exec(statements_->high_water);
      if (hw.empty()) return absl::OkStatus();
      ChunkRequest req;
      req.high_water = RowToKey(hw[0]);
      req.rows = kProbeRows;
      const Bound probe = FindUpper(tx, req);
      if (probe.last) return absl::OkStatus();
      std::vector<std::string> params = RangeParams(std::nullopt, probe.upper);
      pqxx::result plan =
          tx.exec_params(absl::StrCat("EXPLAIN ", statements_->write_first),
                         pqxx::prepare::make_dynamic_params(params));
      indexed = true;
      for (const pqxx::row& line : plan) {
        if (std::string_view(line[0].c_str()).find("Seq Scan") !=
            std::string_view::npos) {
          indexed = false;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return indexed;
  }

  static const char* NestedLoopJoinSql() {
    return "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";
  }

  // Parameters of a range statement: [lower key...], upper key....
  static std::vector<std::string> RangeParams(const std::optional<Key>& after,
                                              const Key& upper) {
    std::vector<std::string> params;
    if (after.has_value()) Append(&params, *after);
    Append(&params, upper);
    return params;
  }

  static absl::Status NoSuchJob(const std::string& job) {
    return absl::NotFoundError(absl::StrCat("no job named \"", job, "\""));
  }

  static bool CheckpointTableExists(pqxx::transaction_base& tx) {
    return !tx.exec_params("SELECT to_regclass($1)", kCheckpointTable)[0][0]
                .is_null();
  }

  absl::StatusOr<std::vector<Checkpoint>> Query(
      const std::string& tail, const std::optional<std::string>& job) {
    std::vector<Checkpoint> out;
    absl::Status s = Try("cannot read the checkpoint table", [&] {
      pqxx::nontransaction tx(*conn_);
      if (!CheckpointTableExists(tx)) return absl::OkStatus();
      const std::string sql = absl::StrCat("SELECT ", kCheckpointColumns,
                                           " FROM ", kCheckpointTable, tail);
      pqxx::result r =
          job.has_value() ? tx.exec_params(sql, *job) : tx.exec(sql);
      for (const pqxx::row& row : r) {
        absl::StatusOr<Checkpoint> cp = ReadCheckpoint(row);
        if (!cp.ok()) return cp.status();
        out.push_back(*std::move(cp));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  // Runs `f`, turning any exception into a Status (pg::MapPgError). A call
  // that hears nothing from the server for the statement timeout plus
  // ConnectOptions::kSilenceGrace is cut by the watchdog and fails as a
  // lost connection (kUnavailable), which the run redials.
  template <typename F>
  absl::Status Try(absl::string_view context, F&& f) {
    if (conn_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(context, ": not connected"));
    }
    if (statement_timeout_ <= absl::ZeroDuration())
      return TryUnbounded(context, f);
    const absl::Duration limit =
        statement_timeout_ + ConnectOptions::kSilenceGrace;
    pg::ArmedWatchdog armed(watchdog_, conn_->sock(), limit);
    absl::Status s = TryUnbounded(context, f);
    if (!armed.Disarm()) return s;
    return absl::UnavailableError(absl::StrCat(
        context, ": no answer from the server within ",
        absl::FormatDuration(limit),
        " (the statement timeout and a grace); the connection was dropped"));
  }

  template <typename F>
  absl::Status TryUnbounded(absl::string_view context, F& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return pg::MapPgError(e, context, target_.secret);
    }
  }

  const pg::ConnectTarget target_;
  const absl::Duration statement_timeout_;  // zero: unbounded
  pg::SilenceWatchdog watchdog_;
  std::unique_ptr<pqxx::connection> conn_;  // destroyed before watchdog_
  std::optional<pg::PgStatements> statements_;
  // The lease TakeLease took: fences RunChunk and SaveCheckpoint.
  std::optional<LeaseClaim> lease_;
  size_t key_size_ = 0;
  bool has_lock_ = false;
  // Join shape with an index for the source lookups (IndexedJoinPlan): each
  // chunk's transaction plans joins as nested loops.
  bool nested_loop_join_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const Dsn& dsn, const ConnectOptions& options) {
  absl::StatusOr<pg::ConnectTarget> target = pg::BuildConnectTarget(
      options, "backfill", /*connect_timeout_seconds=*/10);
  if (!target.ok()) return target.status();
  auto db = std::make_unique<PostgresDatabase>(*std::move(target),
                                               options.statement_timeout);
  if (absl::Status s = db->Connect(); !s.ok()) return s;
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace backfill
