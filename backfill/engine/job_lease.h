#ifndef BACKFILL_ENGINE_JOB_LEASE_H_
#define BACKFILL_ENGINE_JOB_LEASE_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backfill/engine/database.h"
#include "backfill/throttle/clock.h"

namespace backfill {

// Who a run is, as a lease holder: host name, process id and start time,
// boot id and pid namespace, and a number unique within the process, as
// "host=H pid=P start=S boot=B pidns=N run=R". Two runs never share one.
std::string SelfHolder();

// "H pid P" for messages; the text itself when it is not a SelfHolder.
std::string DescribeHolder(absl::string_view holder);

// The start time (in clock ticks since boot, /proc/PID/stat field 22) of
// process `pid` in this pid namespace, or nullopt when there is none.
using StartTimeOf = std::function<std::optional<std::string>(int pid)>;
StartTimeOf ProcStartTime();

// Whether `holder` is a run on this very machine and pid namespace (same
// host name, boot id and pid namespace as `self`) whose process is gone:
// `start_time_of` finds no process with its pid, or one started at another
// time (a reused pid). False whenever that cannot be known.
bool HolderIsDeadHere(absl::string_view holder, absl::string_view self,
                      const StartTimeOf& start_time_of);

// A run's hold on its job through Database::TakeLease, so that two
// processes (or two runs in one process) never run the same job at once.
// A holder that died on this machine (kill -9) is taken over at once; one
// elsewhere once its lease expires (`ttl` after its last chunk). Not
// thread-safe; the Database must outlive it.
class JobLease {
 public:
  static constexpr absl::Duration kTtl = absl::Seconds(30);

  JobLease(Database* db, std::string job, Clock* clock,
           std::string self = SelfHolder(),
           StartTimeOf start_time_of = ProcStartTime(),
           absl::Duration ttl = kTtl);
  ~JobLease();  // Release()
  JobLease(const JobLease&) = delete;
  JobLease& operator=(const JobLease&) = delete;

  // Takes (or, after a reconnect, re-takes) the lease.
  // kFailedPrecondition "job J is already running in another backfill
  // process (H pid P); its lease expires in 12s" when a live run holds it;
  // the database's errors otherwise (kUnavailable: retry).
  absl::Status Take();

  // Renews the lease when a third of its ttl has passed since it was taken
  // or last renewed here (chunks renew it too, in their transactions).
  // kFailedPrecondition when another run took it over.
  absl::Status RenewIfDue();

  // Gives the lease up, best effort (idempotent).
  void Release();

  const std::string& holder() const { return self_; }

 private:
  Database* const db_;
  const std::string job_;
  Clock* const clock_;
  const std::string self_;
  const StartTimeOf start_time_of_;
  const absl::Duration ttl_;
  bool held_ = false;
  absl::Time renewed_ = absl::InfinitePast();
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_JOB_LEASE_H_
