#ifndef BACKFILL_ENGINE_OBSERVER_LIST_H_
#define BACKFILL_ENGINE_OBSERVER_LIST_H_

#include <string>
#include <utility>
#include <vector>

#include "backfill/engine/job.h"

namespace backfill {

// An Observer that forwards every event to several others, in the order
// given, so a run can feed a log printer and the metrics at once:
//
//   ObserverList observers({&printer, &metrics});
//   options.observer = &observers;
//
// Null entries are skipped. The observers are not owned and must outlive the
// run. Called on the run's thread, like any Observer; thread-safe only as far
// as its members are.
class ObserverList : public Observer {
 public:
  explicit ObserverList(std::vector<Observer*> observers)
      : observers_(std::move(observers)) {}

  void OnStart(const Checkpoint& checkpoint, const JobPlan& plan,
               bool resumed) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnStart(checkpoint, plan, resumed);
    }
  }
  void OnChunk(const Progress& progress) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnChunk(progress);
    }
  }
  void OnRetry(const absl::Status& error, int attempt,
               absl::Duration backoff) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnRetry(error, attempt, backoff);
    }
  }
  void OnFinish(const RunReport& report) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnFinish(report);
    }
  }
  void OnThrottle(const Decision& decision) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnThrottle(decision);
    }
  }
  void OnWarning(const std::string& message) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnWarning(message);
    }
  }
  void OnNote(const std::string& message) override {
    for (Observer* o : observers_) {
      if (o != nullptr) o->OnNote(message);
    }
  }

 private:
  const std::vector<Observer*> observers_;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_OBSERVER_LIST_H_
