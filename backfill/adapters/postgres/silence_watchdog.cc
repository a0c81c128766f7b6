#include "backfill/adapters/postgres/silence_watchdog.h"

#include <sys/socket.h>

namespace backfill::pg {

SilenceWatchdog::SilenceWatchdog() : thread_([this] { Loop(); }) {}

SilenceWatchdog::~SilenceWatchdog() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void SilenceWatchdog::Arm(int fd, absl::Duration limit) {
  MutexLock lock(&mu_);
  fd_ = fd;
  deadline_ = absl::Now() + limit;
  fired_ = false;
}

bool SilenceWatchdog::Disarm() {
  MutexLock lock(&mu_);
  fd_ = -1;
  deadline_ = absl::InfiniteFuture();
  return fired_;
}

void SilenceWatchdog::Loop() {
  MutexLock lock(&mu_);
  while (!stop_) {
    if (fd_ >= 0 && absl::Now() >= deadline_) {
      shutdown(fd_, SHUT_RDWR);
      fired_ = true;
      fd_ = -1;
    }
    mu_.AwaitWithTimeout(
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; },
        absl::Milliseconds(50));
  }
}

}  // namespace backfill::pg
