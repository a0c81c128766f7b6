#include "adapters/postgres/postgres_database.h"

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
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "adapters/postgres/pg_catalog.h"
#include "adapters/postgres/pg_errors.h"
#include "adapters/postgres/pg_sql.h"

// libpqxx 6 marks inhibit_reactivation deprecated, but without it a broken
// connection silently reconnects and loses session state (locks, prepared
// statements), which the engine must see as kUnavailable instead.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace backfill {
namespace {

constexpr char kCheckpointTable[] = "backfill_checkpoints";
// First half of the advisory lock key: "bfil".
constexpr char kLockClass[] = "1650614380";

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
  PostgresDatabase(std::string uri, std::string secret)
      : uri_(std::move(uri)), secret_(std::move(secret)) {}

  absl::Status Connect() {
    try {
      conn_ = std::make_unique<pqxx::connection>(uri_);
      conn_->inhibit_reactivation(true);
      pqxx::nontransaction tx(*conn_);
      tx.exec("SET client_min_messages = warning");
      // A chunk's commit need not wait for its WAL flush: data and checkpoint
      // commit in one transaction, so a server crash can only roll back the
      // last few chunks together with their checkpoints, and the resume
      // redoes them (idempotently). Any application commit that follows
      // ours flushes the WAL past our commit record anyway. Saves one fsync
      // per chunk (about 4% of a 500ms chunk on this machine).
      tx.exec("SET synchronous_commit = off");
      // Plan every execution with its real bounds and OFFSET: a generic plan
      // (chosen after five executions) does not know the OFFSET and may
      // prefer a sequential scan and sort, a whole-table scan per chunk.
      tx.exec("SET plan_cache_mode = force_custom_plan");
      if (nested_loop_join_) SetNestedLoopJoin(tx, "");
      for (const auto& [name, sql] : prepared_) {
        conn_->prepare(name, sql);
        conn_->prepare_now(name);
      }
      return absl::OkStatus();
    } catch (const std::exception& e) {
      conn_.reset();
      return pg::MapPgError(e, "cannot connect to PostgreSQL", secret_);
    }
  }

  absl::StatusOr<JobPlan> Prepare(const JobSpec& spec) override {
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

    const std::vector<std::pair<std::string, std::string>> statements = {
        {"bf_hw", statements_->high_water},
        {"bf_bnd0", statements_->boundary_first},
        {"bf_bnd1", statements_->boundary_next},
        {"bf_cnt0", statements_->count_first},
        {"bf_cnt1", statements_->count_next},
        {"bf_lock0", statements_->lock_first},
        {"bf_lock1", statements_->lock_next},
        {"bf_w0", statements_->write_first},
        {"bf_w1", statements_->write_next},
        {"bf_v0", statements_->verify_first},
        {"bf_v1", statements_->verify_next}};
    for (const auto& [name, sql] : statements) {
      if (sql.empty()) continue;
      if (absl::Status p =
              PrepareStatement(name, sql, "the chunk statement does not check");
          !p.ok()) {
        return p;
      }
    }

    JobPlan plan;
    if (model->shape == Shape::kJoin) {
      absl::StatusOr<std::optional<bool>> indexed = IndexedJoinPlan();
      if (!indexed.ok()) return indexed.status();
      if (indexed->value_or(false)) {
        s = Try("cannot set up the join", [&] {
          pqxx::nontransaction tx(*conn_);
          SetNestedLoopJoin(tx, "");
          return absl::OkStatus();
        });
        if (!s.ok()) return s;
        nested_loop_join_ = true;
      } else if (indexed->has_value()) {
        plan.notes.push_back(absl::StrCat("the --on lookup into ",
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
      pqxx::result r = tx.exec_prepared("bf_hw");
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
      if (req.lock_timeout > absl::ZeroDuration()) {
        // A lock wait past it fails with 55P03 (kAborted): retried smaller.
        tx.exec(absl::StrCat(
            "SET LOCAL lock_timeout = ",
            std::max<int64_t>(1, absl::ToInt64Milliseconds(req.lock_timeout))));
      }
      Bound bound = FindUpper(tx, req);
      out.upper = bound.upper;
      out.rows_walked = bound.rows_walked;
      out.last = bound.last;
      std::vector<std::string> params = RangeParams(req.after, out.upper);
      if (has_lock_) {
        tx.exec_prepared(next ? "bf_lock1" : "bf_lock0",
                         pqxx::prepare::make_dynamic_params(params));
      }
      pqxx::result w = tx.exec_prepared(
          next ? "bf_w1" : "bf_w0", pqxx::prepare::make_dynamic_params(params));
      out.rows_written = w.affected_rows();
      pqxx::result ck = tx.exec_prepared(
          "bf_ckpt", req.job, EncodeKey(out.upper), out.rows_walked,
          out.rows_written,
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
      Bound bound = FindUpper(tx, req);
      out.upper = bound.upper;
      out.rows_walked = bound.rows_walked;
      out.last = bound.last;
      std::vector<std::string> params = RangeParams(req.after, out.upper);
      params.push_back(absl::StrCat(std::max(show, 1)));
      pqxx::result r =
          tx.exec_prepared(req.after.has_value() ? "bf_v1" : "bf_v0",
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

  absl::Status LockJob(const std::string& job) override {
    return Try("cannot take the job lock", [&] {
      pqxx::nontransaction tx(*conn_);
      // Wait up to 2s: a backend releases a closed session's locks
      // asynchronously, so a slice that starts right after the previous one
      // ended would otherwise find its own job "already running".
      bool locked = false;
      for (int attempt = 0; attempt < 20 && !locked; ++attempt) {
        if (attempt > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        locked = tx.exec_params(absl::StrCat("SELECT pg_try_advisory_lock(",
                                             kLockClass, ", hashtext($1))"),
                                job)[0][0]
                     .as<bool>();
      }
      if (!locked) {
        return absl::FailedPreconditionError(
            absl::StrCat("job \"", job,
                         "\" is already running in another backfill process"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status EnsureCheckpointTable() override {
    absl::Status s = Try("cannot create the checkpoint table", [&] {
      pqxx::nontransaction tx(*conn_);
      try {
        tx.exec(CreateCheckpointTableSql());
      } catch (const pqxx::unique_violation&) {
        // Another job created it at the same moment.
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return PrepareStatement("bf_ckpt", AdvanceCheckpointSql(),
                            "cannot prepare the checkpoint update");
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
      pqxx::nontransaction tx(*conn_);
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
    pqxx::result b =
        tx.exec_prepared(next ? "bf_bnd1" : "bf_bnd0",
                         pqxx::prepare::make_dynamic_params(params));
    if (!b.empty()) {
      bound.upper = RowToKey(b[0]);
      bound.rows_walked = req.rows;
      bound.last = bound.upper == req.high_water;
      return bound;
    }
    params.resize(range_params);
    pqxx::result c =
        tx.exec_prepared(next ? "bf_cnt1" : "bf_cnt0",
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
      SetNestedLoopJoin(tx, "LOCAL ");
      pqxx::result hw = tx.exec_prepared("bf_hw");
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

  static void SetNestedLoopJoin(pqxx::transaction_base& tx, const char* local) {
    tx.exec(absl::StrCat("SET ", local, "enable_hashjoin = off"));
    tx.exec(absl::StrCat("SET ", local, "enable_mergejoin = off"));
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

  absl::Status PrepareStatement(const std::string& name, const std::string& sql,
                                absl::string_view context) {
    return Try(context, [&] {
      for (auto& [n, s] : prepared_) {
        if (n == name) {
          if (s == sql) return absl::OkStatus();
          conn_->unprepare(name);
          s = sql;
          conn_->prepare(name, sql);
          conn_->prepare_now(name);
          return absl::OkStatus();
        }
      }
      conn_->prepare(name, sql);
      conn_->prepare_now(name);
      prepared_.emplace_back(name, sql);
      return absl::OkStatus();
    });
  }

  // Runs `f`, turning any exception into a Status (pg::MapPgError).
  template <typename F>
  absl::Status Try(absl::string_view context, F&& f) {
    if (conn_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(context, ": not connected"));
    }
    try {
      return f();
    } catch (const std::exception& e) {
      return pg::MapPgError(e, context, secret_);
    }
  }

  const std::string uri_;
  const std::string secret_;
  std::unique_ptr<pqxx::connection> conn_;
  std::optional<pg::PgStatements> statements_;
  // Every statement prepared so far, replayed by Connect after a reconnect.
  std::vector<std::pair<std::string, std::string>> prepared_;
  size_t key_size_ = 0;
  bool has_lock_ = false;
  // Join shape with an index for the source lookups (IndexedJoinPlan): this
  // session plans joins as nested loops.
  bool nested_loop_join_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const Dsn& dsn_in, const ConnectOptions& options) {
  Dsn dsn = dsn_in;
  if (options.password.has_value()) dsn.password = options.password;
  bool has_timeout = false, has_app = false;
  for (const auto& [k, v] : dsn.params) {
    has_timeout |= k == "connect_timeout";
    has_app |= k == "application_name";
  }
  if (!has_timeout) dsn.params.emplace_back("connect_timeout", "10");
  if (!has_app) dsn.params.emplace_back("application_name", "backfill");
  auto db = std::make_unique<PostgresDatabase>(dsn.ToUri(),
                                               dsn.password.value_or(""));
  if (absl::Status s = db->Connect(); !s.ok()) return s;
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace backfill
