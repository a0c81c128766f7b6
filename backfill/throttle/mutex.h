#ifndef BACKFILL_THROTTLE_MUTEX_H_
#define BACKFILL_THROTTLE_MUTEX_H_

// The mutex of the library's threads (the controller, the pacer, commit
// latency, the metrics, the PostgreSQL silence watchdog): std::mutex with
// abseil's thread-safety annotations and absl::Mutex's waiting style.
//
// Not absl::Mutex, because ThreadSanitizer sees synchronization only in
// instrumented code or in the pthread calls it intercepts, and Debian's
// abseil is built without it: under `scripts/test --sanitize thread` every
// absl::Mutex-guarded access reads as a data race. std::mutex is pthread's.

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace backfill {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Unlocks and wakes every Await, which then checks its condition again
  // (as absl::Mutex re-evaluates conditions when a holder releases it).
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.unlock();
    changed_.notify_all();
  }

  // With the lock held: waits until `done()` is true or `timeout` has
  // passed, the lock released while waiting and held again on return.
  // Returns done().
  template <typename Done>
  bool AwaitWithTimeout(Done done, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithDeadline(done, absl::Now() + timeout);
  }
  template <typename Done>
  bool AwaitWithDeadline(Done done, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    const bool result = changed_.wait_until(lock, absl::ToChronoTime(deadline),
                                            [&] { return done(); });
    lock.release();  // still held: the caller's MutexLock unlocks it
    return result;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
};

// Holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_MUTEX_H_
