#include "backfill/engine/job_lease.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace backfill {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

// Field 22 (starttime) of /proc/PID/stat; the command name before it may
// hold spaces and parentheses, so count from the last ')'.
std::optional<std::string> StartTimeFromStat(const std::string& stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  if (fields.size() < 20) return std::nullopt;
  return fields[19];  // fields[0] is field 3 (state)
}

std::string PidNamespace() {
  char buf[64] = {0};
  const ssize_t n = readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string ns(buf, static_cast<size_t>(n));  // "pid:[4026531836]"
  std::string digits;
  for (char c : ns) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  return digits;
}

std::map<std::string, std::string> Fields(absl::string_view holder) {
  std::map<std::string, std::string> out;
  for (absl::string_view part :
       absl::StrSplit(holder, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    out[kv.first] = kv.second;
  }
  return out;
}

}  // namespace

std::string SelfHolder() {
  static std::atomic<int> runs{0};
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const std::string stat = ReadFirstLine("/proc/self/stat");
  return absl::StrCat(
      "host=", host[0] != '\0' ? host : "unknown", " pid=", getpid(),
      " start=", StartTimeFromStat(stat).value_or("0"),
      " boot=", ReadFirstLine("/proc/sys/kernel/random/boot_id"),
      " pidns=", PidNamespace(), " run=", ++runs);
}

std::string DescribeHolder(absl::string_view holder) {
  std::map<std::string, std::string> f = Fields(holder);
  if (f.count("host") == 0 || f.count("pid") == 0) return std::string(holder);
  return absl::StrCat(f["host"], " pid ", f["pid"]);
}

StartTimeOf ProcStartTime() {
  return [](int pid) -> std::optional<std::string> {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    if (!in) return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return StartTimeFromStat(s.str());
  };
}

bool HolderIsDeadHere(absl::string_view holder, absl::string_view self,
                      const StartTimeOf& start_time_of) {
  std::map<std::string, std::string> h = Fields(holder), me = Fields(self);
  for (const char* key : {"host", "boot", "pidns"}) {
    if (h[key].empty() || h[key] != me[key]) return false;
  }
  int pid = 0;
  if (!absl::SimpleAtoi(h["pid"], &pid) || pid <= 0 || h["start"].empty()) {
    return false;
  }
  std::optional<std::string> start = start_time_of(pid);
  return !start.has_value() || *start != h["start"];
}

JobLease::JobLease(Database* db, std::string job, Clock* clock,
                   std::string self, StartTimeOf start_time_of,
                   absl::Duration ttl)
    : db_(db),
      job_(std::move(job)),
      clock_(clock),
      self_(std::move(self)),
      start_time_of_(std::move(start_time_of)),
      ttl_(ttl) {}

JobLease::~JobLease() { Release(); }

absl::Status JobLease::Take() {
  LeaseClaim claim{job_, self_, ttl_, ""};
  absl::StatusOr<std::optional<LeaseHolder>> other = db_->TakeLease(claim);
  if (other.ok() && other->has_value() &&
      HolderIsDeadHere((*other)->holder, self_, start_time_of_)) {
    // Killed on this machine (kill -9, OOM): no need to wait for expiry.
    claim.dead_holder = (*other)->holder;
    other = db_->TakeLease(claim);
  }
  if (!other.ok()) return other.status();
  if (other->has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job \"", job_, "\" is already running in another backfill process (",
        DescribeHolder((*other)->holder), "); its lease expires in ",
        absl::FormatDuration(
            absl::Ceil(std::max((*other)->remaining, absl::ZeroDuration()),
                       absl::Seconds(1))),
        " unless that run renews it"));
  }
  held_ = true;
  renewed_ = clock_->Now();
  return absl::OkStatus();
}

absl::Status JobLease::RenewIfDue() {
  if (!held_) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  if (now - renewed_ < ttl_ / 3) return absl::OkStatus();
  if (absl::Status s = db_->RenewLease(); !s.ok()) return s;
  renewed_ = now;
  return absl::OkStatus();
}

void JobLease::Release() {
  if (!held_) return;
  held_ = false;
  (void)db_->ReleaseLease();
}

}  // namespace backfill
