#ifndef BACKFILL_ADAPTERS_POSTGRES_SILENCE_WATCHDOG_H_
#define BACKFILL_ADAPTERS_POSTGRES_SILENCE_WATCHDOG_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "backfill/throttle/mutex.h"

namespace backfill::pg {

// Cuts a connection whose peer has gone silent. libpq has no read timeout: a
// statement on a server behind a black-holed network or a hung proxy waits
// for an answer that never comes, since the server's statement_timeout error
// cannot arrive either. Arm(fd, limit) before a blocking call on socket
// `fd`, Disarm() after it; if the call is still running `limit` after Arm,
// the watchdog shuts the socket down (shutdown(2), both ways) and the call
// fails as a lost connection.
//
// The socket is shut down only while armed and never closed here, so the
// caller must keep it open from Arm to Disarm. Checks every 50ms, on a
// thread of its own (real time: this is I/O, not pacing logic).
class SilenceWatchdog {
 public:
  SilenceWatchdog();
  ~SilenceWatchdog();

  SilenceWatchdog(const SilenceWatchdog&) = delete;
  SilenceWatchdog& operator=(const SilenceWatchdog&) = delete;

  void Arm(int fd, absl::Duration limit);
  // Disarms; returns whether the socket was cut since Arm.
  bool Disarm();

 private:
  void Loop();

  Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;  // -1: disarmed
  absl::Time deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Arms `w` for the life of the scope.
class ArmedWatchdog {
 public:
  ArmedWatchdog(SilenceWatchdog& w, int fd, absl::Duration limit) : w_(w) {
    w_.Arm(fd, limit);
  }
  ~ArmedWatchdog() {
    if (!disarmed_) w_.Disarm();
  }
  // Disarms early; whether the socket was cut.
  bool Disarm() {
    disarmed_ = true;
    return w_.Disarm();
  }

 private:
  SilenceWatchdog& w_;
  bool disarmed_ = false;
};

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_SILENCE_WATCHDOG_H_
