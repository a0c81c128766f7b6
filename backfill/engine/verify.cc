#include "backfill/engine/verify.h"

#include "absl/status/status.h"

namespace backfill {

absl::StatusOr<VerifyReport> VerifyJob(Database& db, const JobSpec& spec,
                                       const VerifyOptions& options) {
  Clock* clock = options.clock != nullptr ? options.clock : Clock::Real();
  const absl::Time start = clock->Now();
  if (absl::Status s = ValidateJobSpec(spec); !s.ok()) return s;
  absl::StatusOr<JobPlan> plan = db.Prepare(spec);
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::optional<Key>> high = db.HighWaterMark();
  if (!high.ok()) return high.status();

  VerifyReport report;
  ChunkSizer sizer(options.chunking);
  std::optional<Key> after;
  bool reconnected = false;
  while (high->has_value()) {
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      report.complete = false;
      break;
    }
    ChunkRequest request{"", after, **high, sizer.next_rows()};
    const absl::Time chunk_start = clock->Now();
    absl::StatusOr<VerifyResult> r = db.VerifyChunk(request, options.show);
    if (!r.ok()) {
      if (absl::IsUnavailable(r.status()) && !reconnected &&
          db.Reconnect().ok()) {
        reconnected = true;
        continue;
      }
      return r.status();
    }
    reconnected = false;
    sizer.Observe(r->rows_walked, clock->Now() - chunk_start);
    report.rows_walked += r->rows_walked;
    report.mismatched += r->mismatched;
    report.missing += r->missing;
    report.chunks += 1;
    for (Key& k : r->sample) {
      if (static_cast<int>(report.sample.size()) < options.show) {
        report.sample.push_back(std::move(k));
      }
    }
    if (r->last) break;
    after = r->upper;
  }
  report.elapsed = clock->Now() - start;
  return report;
}

}  // namespace backfill
