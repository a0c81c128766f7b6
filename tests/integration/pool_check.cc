#include "tests/integration/pool_check.h"

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/pg_test_dsn.h"

namespace backfill::testing {
namespace {

using Settings = std::map<std::string, std::string>;

// Both sides connect alike, so libpq sends the same startup parameters
// (PgBouncer re-applies application_name and the like to a server
// connection for each client it serves).
std::string AsChecker(const std::string& dsn) {
  return PgUri(dsn, {{"application_name", "bf_pool_check"}});
}

struct ServerState {
  int64_t pid = 0;
  Settings settings;
  int64_t prepared = 0;
  int64_t advisory = 0;
};

// Reads the state of the server session `tx` runs on (inside the open
// transaction, which pins it).
ServerState Read(pqxx::transaction_base& tx) {
  ServerState s;
  s.pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<int64_t>();
  for (const pqxx::row& r :
       tx.exec("SELECT name, coalesce(setting, '') FROM pg_settings")) {
    s.settings[r[0].c_str()] = r[1].c_str();
  }
  s.prepared = tx.exec("SELECT count(*) FROM pg_prepared_statements")[0][0]
                   .as<int64_t>();
  s.advisory =
      tx.exec(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid()")[0][0]
          .as<int64_t>();
  return s;
}

// Backend pids of the pool's server connections, once none is busy.
// PgBouncer's admin console is read with libpq itself: libpqxx refuses a
// "server" whose version is PgBouncer's.
std::set<int64_t> ServerPids(const std::string& pooled_dsn) {
  std::map<std::string, std::string> p = PgParams(pooled_dsn);
  // The console admits PgBouncer's admin_users only: the dev DSN's user.
  const char* dev = std::getenv("BACKFILL_PGBOUNCER_DSN");
  std::unique_ptr<PGconn, decltype(&PQfinish)> admin(
      PQconnectdb(
          PgUri(dev != nullptr ? dev : pooled_dsn, {{"dbname", "pgbouncer"}})
              .c_str()),
      &PQfinish);
  if (PQstatus(admin.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot reach PgBouncer's admin console: "
                  << PQerrorMessage(admin.get());
    return {};
  }
  std::set<int64_t> pids;
  for (int attempt = 0; attempt < 50; ++attempt) {
    pids.clear();
    bool busy = false;
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        PQexec(admin.get(), "SHOW SERVERS"), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << "SHOW SERVERS failed: " << PQerrorMessage(admin.get());
      return {};
    }
    const int database = PQfnumber(r.get(), "database");
    const int user = PQfnumber(r.get(), "user");
    const int state = PQfnumber(r.get(), "state");
    const int pid = PQfnumber(r.get(), "remote_pid");
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      if (p["dbname"] != PQgetvalue(r.get(), i, database) ||
          p["user"] != PQgetvalue(r.get(), i, user)) {
        continue;
      }
      busy |= std::string(PQgetvalue(r.get(), i, state)) == "active";
      pids.insert(std::stoll(PQgetvalue(r.get(), i, pid)));
    }
    if (!busy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pids;
}

// One client per server connection of the pool, each pinning one by its
// open transaction: PgBouncer hands out idle server connections before it
// opens new ones.
struct Pinned {
  std::vector<std::unique_ptr<pqxx::connection>> clients;
  std::vector<std::unique_ptr<pqxx::work>> open;
};

Pinned PinAll(const std::string& pooled_dsn, size_t n) {
  Pinned p;
  for (size_t i = 0; i < n; ++i) {
    p.clients.push_back(
        std::make_unique<pqxx::connection>(AsChecker(pooled_dsn)));
    p.open.push_back(std::make_unique<pqxx::work>(*p.clients.back()));
  }
  return p;
}

}  // namespace

void FlushPoolStats(const std::string& pooled_dsn) {
  Pinned pinned = PinAll(pooled_dsn, ServerPids(pooled_dsn).size());
  for (auto& tx : pinned.open) {
    tx->exec("SELECT pg_stat_force_next_flush()");
    tx->commit();
  }
}

int ExpectPoolIsClean(const std::string& pooled_dsn,
                      const std::string& direct_dsn) {
  const std::set<int64_t> pids = ServerPids(pooled_dsn);

  pqxx::connection fresh(AsChecker(direct_dsn));
  pqxx::work fresh_tx(fresh);
  const ServerState baseline = Read(fresh_tx);

  Pinned pinned = PinAll(pooled_dsn, pids.size());
  std::set<int64_t> seen;
  for (auto& tx : pinned.open) {
    const ServerState state = Read(*tx);
    seen.insert(state.pid);
    for (const auto& [name, value] : baseline.settings) {
      auto it = state.settings.find(name);
      EXPECT_TRUE(it != state.settings.end() && it->second == value)
          << "server connection " << state.pid << " of the pool: " << name
          << " = " << (it == state.settings.end() ? "(missing)" : it->second)
          << ", a fresh connection has " << value;
    }
    EXPECT_EQ(state.prepared, 0) << "server connection " << state.pid
                                 << " keeps named prepared statements";
    EXPECT_EQ(state.advisory, 0)
        << "server connection " << state.pid << " holds advisory locks";
  }
  for (int64_t pid : pids) {
    EXPECT_TRUE(seen.count(pid))
        << "server connection " << pid << " of the pool was not checked";
  }
  return static_cast<int>(seen.size());
}

}  // namespace backfill::testing
