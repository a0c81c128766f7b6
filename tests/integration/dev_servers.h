#ifndef BACKFILL_TESTS_INTEGRATION_DEV_SERVERS_H_
#define BACKFILL_TESTS_INTEGRATION_DEV_SERVERS_H_

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/test_db.h"

namespace backfill::testing {

// Control of the servers scripts/dev-db runs, for the serial integration
// tests that pause, stop or restart them. Everything here throws
// std::runtime_error when a command fails.

double SecondsSince(std::chrono::steady_clock::time_point t0);

// Runs `argv` (no shell) and returns its stdout, stripped; throws with its
// stderr when it fails. Only fds 1 and 2 reach the child, so a server it
// starts (pg_ctl start) does not hold our pipes open for its whole life.
std::string Capture(const std::vector<std::string>& argv);

// SQL on `db`'s scratch database on the replica, through the command-line
// client (psql or mysql); returns the unaligned, tab-free output.
std::string ReplicaSql(const TestDb& db, const std::string& sql);

// One of the dev servers: the PostgreSQL or MariaDB ("postgres" selects)
// primary or replica ("primary", "replica"), in $BACKFILL_DEV_DB_DIR
// (default /tmp/backfill-dev-db).
class DevServer {
 public:
  DevServer(bool postgres, std::string which);

  bool Running() const;
  // A fast shutdown; returns once pg_ctl has stopped the server, or once
  // MariaDB has accepted the shutdown (it may still be going away).
  void Stop();
  // Starts the server the way scripts/dev-db does, and waits for it.
  void Start();
  void EnsureRunning() {
    if (!Running()) Start();
  }
  // Stops the server, waits until it is gone, and starts it again.
  void Restart();
  // PostgreSQL replica: pg_ctl promote, waiting until it takes writes.
  void Promote();

 private:
  std::string Dir() const;

  bool postgres_;
  std::string which_;
};

// Stops the PostgreSQL replica (promoted or not), starts the primary if it
// is down, and clones the replica again from it: the usual pair, as
// scripts/dev-db leaves it (`scripts/dev-db reclone-pg-replica`).
void RecloneDevPgReplica();

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_DEV_SERVERS_H_
