#include "cli/flag_terms.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

struct Term {
  absl::string_view member;
  absl::string_view flag;
};

// Every member a library message may name, and its flag.
constexpr Term kTerms[] = {
    // JobText (backfill/engine/job_spec.h), ConnectOptions, RunOptions.
    {"table", "--table"},
    {"from", "--from"},
    {"into", "--into"},
    {"on", "--on"},
    {"sets", "--set"},
    {"columns", "--columns"},
    {"where", "--where"},
    {"key", "--key"},
    {"dsn", "--dsn"},
    {"defaults_file", "--defaults-file"},
    {"statement_timeout", "--statement-timeout"},
    {"restart", "--restart"},
    {"chunking.target_chunk_time", "--target-chunk-time"},
    // MetricsServer::Start.
    {"listen", "--metrics-listen"},
    // PacingOptions (backfill/pacing.h).
    {"replicas", "--replica"},
    {"lag.max_lag", "--max-lag"},
    {"lag.critical_lag", "--critical-lag"},
    {"lag.max_lag_bytes", "--max-lag-bytes"},
    {"max_latency", "--max-latency"},
    {"probe_query", "--probe-query"},
    {"throttle_query", "--throttle-query"},
    {"throttle_threshold", "--throttle-threshold"},
    {"max_rows_per_second", "--max-rows-per-second"},
    {"commit_latency", "--max-commit-latency"},
    {"load", "--max-load"},
    {"load.max", "--max-load"},
    {"load.critical", "--critical-load"},
    {"ignore_unreachable_replicas", "--ignore-unreachable-replicas"},
};

const Term* FindTerm(absl::string_view member) {
  for (const Term& t : kTerms) {
    if (t.member == member) return &t;
  }
  return nullptr;
}

// The text with a leading "member:" or "replicas " in flag terms.
std::string LeadingInFlagTerms(absl::string_view text) {
  if (absl::StartsWith(text, "replicas ")) {
    return absl::StrCat("--replica ", text.substr(9));
  }
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return std::string(text);
  const Term* t = FindTerm(text.substr(0, colon));
  if (t == nullptr) return std::string(text);
  return absl::StrCat(t->flag, text.substr(colon));
}

}  // namespace

std::string InFlagTerms(absl::string_view text) {
  const std::string led = LeadingInFlagTerms(text);
  std::string out;
  absl::string_view rest = led;
  while (!rest.empty()) {
    const size_t open = rest.find('`');
    const size_t close =
        open == absl::string_view::npos ? open : rest.find('`', open + 1);
    if (close == absl::string_view::npos) break;
    const Term* t = FindTerm(rest.substr(open + 1, close - open - 1));
    absl::StrAppend(&out, rest.substr(0, open));
    // Not a member (a MySQL identifier, say): kept as it is.
    absl::StrAppend(
        &out, t != nullptr ? t->flag : rest.substr(open, close - open + 1));
    rest.remove_prefix(close + 1);
  }
  absl::StrAppend(&out, rest);
  return out;
}

absl::Status InFlagTerms(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), InFlagTerms(status.message()));
}

}  // namespace backfill
