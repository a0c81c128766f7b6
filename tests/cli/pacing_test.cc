// ParsePacingFlags (cli/pacing.h): defaults, and every bad combination is
// bad input naming its flag; ChunkTimeForReplicas.

#include "cli/pacing.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/progress.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_clock.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PacingFlagsTest, Defaults) {
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(PacingFlags{});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->replicas.empty());
  EXPECT_EQ(s->lag.max_lag, absl::Seconds(1));
  EXPECT_EQ(s->lag.critical_lag, absl::ZeroDuration());
  EXPECT_EQ(s->lag.max_lag_bytes, 0);
  EXPECT_FALSE(s->lag_explicit);
  EXPECT_EQ(s->max_latency, absl::ZeroDuration());  // no probe
  EXPECT_EQ(s->probe_query, "SELECT 1");
  EXPECT_TRUE(s->throttle_query.empty());
  EXPECT_EQ(s->max_rows_per_second, 0);
  EXPECT_EQ(s->lock_timeout, absl::Seconds(2));
}

TEST(PacingFlagsTest, EverySetting) {
  PacingFlags f;
  f.replicas = {"postgresql://u:secret@r1:5433/db", "postgresql://u@r2/db"};
  f.max_lag = "500ms";
  f.critical_lag = "30s";
  f.max_lag_bytes = 1 << 20;
  f.max_latency = "50ms";
  f.probe_query = "SELECT count(*) FROM pg_stat_activity";
  f.throttle_query = "SELECT 3";
  f.throttle_threshold = "10.5";
  f.max_rows_per_second = 2000;
  f.lock_timeout = "250ms";
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->replicas.size(), 2u);
  EXPECT_EQ(s->lag.max_lag, absl::Milliseconds(500));
  EXPECT_EQ(s->lag.critical_lag, absl::Seconds(30));
  EXPECT_EQ(s->lag.max_lag_bytes, 1 << 20);
  EXPECT_TRUE(s->lag_explicit);
  EXPECT_EQ(s->max_latency, absl::Milliseconds(50));
  EXPECT_EQ(s->probe_query, "SELECT count(*) FROM pg_stat_activity");
  EXPECT_EQ(s->throttle_query, "SELECT 3");
  EXPECT_EQ(s->throttle_threshold, 10.5);
  EXPECT_EQ(s->max_rows_per_second, 2000);
  EXPECT_EQ(s->lock_timeout, absl::Milliseconds(250));
}

TEST(PacingFlagsTest, MaxLagZeroTurnsLagOff) {
  PacingFlags f;
  f.max_lag = "0";
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->lag.max_lag, absl::ZeroDuration());
}

void ExpectBad(const PacingFlags& f, const std::string& message) {
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(message));
}

TEST(PacingFlagsTest, BadInputNamesTheFlag) {
  PacingFlags f;
  f.max_lag = "soon";
  ExpectBad(f, "--max-lag: \"soon\" is not a duration");
  f = {};
  f.critical_lag = "-1s";
  ExpectBad(f, "--critical-lag");
  f = {};
  f.critical_lag = "1s";  // not above --max-lag (1s)
  ExpectBad(f, "--critical-lag: must be above --max-lag");
  f = {};
  f.max_lag = "0";
  f.critical_lag = "10s";
  ExpectBad(f, "--critical-lag: needs lag watching");
  f = {};
  f.max_lag = "0";
  f.replicas = {"postgresql://u@r1/db"};
  ExpectBad(f, "--replica: lag watching is off");
  f = {};
  f.max_lag_bytes = -1;
  ExpectBad(f, "--max-lag-bytes");
  f = {};
  f.max_latency = "0";
  ExpectBad(f, "--max-latency: must be above 0");
  f = {};
  f.probe_query = "SELECT 1";
  ExpectBad(f, "--probe-query: needs --max-latency");
  f = {};
  f.throttle_query = "SELECT 1";
  ExpectBad(f, "--throttle-query and --throttle-threshold go together");
  f = {};
  f.throttle_threshold = "5";
  ExpectBad(f, "--throttle-query and --throttle-threshold go together");
  f = {};
  f.throttle_query = "SELECT 1";
  f.throttle_threshold = "0";
  ExpectBad(f, "--throttle-threshold: \"0\" is not a number above 0");
  f = {};
  f.max_rows_per_second = -5;
  ExpectBad(f, "--max-rows-per-second");
  f = {};
  f.lock_timeout = "2 seconds";
  ExpectBad(f, "--lock-timeout");
}

// Safe by default: commit-latency pacing at 2x the quiet baseline; a
// multiple, a duration or 0 (the faster, less careful mode) change it.
TEST(PacingFlagsTest, CommitLatencyIsOnByDefault) {
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(PacingFlags{});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->commit_latency.enabled);
  EXPECT_EQ(s->commit_latency.factor, 2);
  EXPECT_EQ(s->commit_latency.max, absl::ZeroDuration());

  PacingFlags f;
  f.max_commit_latency = "1.25x";
  s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->commit_latency.factor, 1.25);
  f.max_commit_latency = "5ms";
  s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->commit_latency.enabled);
  EXPECT_EQ(s->commit_latency.factor, 0);
  EXPECT_EQ(s->commit_latency.max, absl::Milliseconds(5));
  f.max_commit_latency = "0";
  s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->commit_latency.enabled);
}

TEST(PacingFlagsTest, LoadFlagsMergeByVariable) {
  PacingFlags f;
  f.max_load = "Threads_running=25, Threads_connected=500";
  f.critical_load = "threads_running=60,Innodb_row_lock_current_waits=10";
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(f);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->load.size(), 3u);
  EXPECT_EQ(s->load[0].variable, "Threads_running");
  EXPECT_EQ(s->load[0].max, 25);
  EXPECT_EQ(s->load[0].critical, 60);
  EXPECT_EQ(s->load[1].variable, "Threads_connected");
  EXPECT_EQ(s->load[1].max, 500);
  EXPECT_EQ(s->load[1].critical, 0);
  EXPECT_EQ(s->load[2].variable, "Innodb_row_lock_current_waits");
  EXPECT_EQ(s->load[2].max, 0);
  EXPECT_EQ(s->load[2].critical, 10);
}

TEST(PacingFlagsTest, BadPacingFlagsForTheApplication) {
  PacingFlags f;
  f.max_commit_latency = "1x";
  ExpectBad(f,
            "--max-commit-latency: \"1x\": a multiple of the quiet "
            "baseline must be above 1");
  f.max_commit_latency = "fast";
  ExpectBad(f, "--max-commit-latency: \"fast\" is not a multiple");
  f = {};
  f.max_load = "Threads_running";
  ExpectBad(f, "--max-load: \"Threads_running\" is not VAR=N");
  f.max_load = "Threads_running=0";
  ExpectBad(f, "--max-load: \"Threads_running=0\" is not VAR=N");
  f.max_load = "=5";
  ExpectBad(f, "--max-load: \"=5\" is not VAR=N");
  f.max_load = "a=1,A=2";
  ExpectBad(f, "--max-load: A is given twice");
  f.max_load = "Threads_running=25";
  f.critical_load = "Threads_running=20";
  ExpectBad(f,
            "--critical-load: Threads_running must be above its "
            "--max-load (25)");
}

TEST(ParseCommitLatencyFlagTest, TheFlagsDefaultIsTheLibrarys) {
  absl::StatusOr<CommitLatencyLimit> flag =
      ParseCommitLatencyFlag(kDefaultMaxCommitLatency);
  ASSERT_TRUE(flag.ok()) << flag.status();
  const CommitLatencyLimit library = PacingOptions::DefaultCommitLatency();
  EXPECT_EQ(flag->enabled, library.enabled);
  EXPECT_EQ(flag->factor, library.factor);
  EXPECT_EQ(flag->max, library.max);
}

TEST(PacingFlagsTest, BadReplicaUriNeverEchoesThePassword) {
  PacingFlags f;
  f.replicas = {"postgres-ql://u:hunter2@r1/db"};
  absl::StatusOr<PacingSettings> s = ParsePacingFlags(f);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("--replica: bad URI"));
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::Not(HasSubstr("hunter2")));
}

// Throttle events as the ProgressPrinter shows them.
std::string PrintThrottle(LogFormat format) {
  std::FILE* file = std::tmpfile();
  FakeClock clock;
  ProgressPrinter printer(file, format, &clock);
  Checkpoint cp;
  cp.job = "users";
  cp.high_water = Key{"10"};
  printer.OnStart(cp, JobPlan{}, false);
  Decision held;
  held.action = Decision::Action::kWait;
  held.reason = "replication_lag replica=r1:5432 2.3s > 1s";
  held.label = "replication_lag replica=r1:5432";
  printer.OnThrottle(held);
  clock.Advance(absl::Milliseconds(1500));
  printer.OnThrottle(Decision{});
  printer.OnNote("replication lag is not watched");
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) out.append(buf, n);
  std::fclose(file);
  return out;
}

TEST(ThrottleEventsTest, Json) {
  const std::string out = PrintThrottle(LogFormat::kJson);
  EXPECT_THAT(
      out,
      HasSubstr("{\"event\":\"throttle\",\"time\":\"2023-11-14T22:13:20.000Z\","
                "\"job\":\"users\",\"state\":\"on\",\"reason\":"
                "\"replication_lag replica=r1:5432 2.3s > 1s\",\"label\":"
                "\"replication_lag replica=r1:5432\"}\n"));
  EXPECT_THAT(
      out,
      HasSubstr(
          "\"job\":\"users\",\"state\":\"off\",\"waited_seconds\":1.5}\n"));
  EXPECT_THAT(
      out,
      HasSubstr("{\"event\":\"note\",\"time\":\"2023-11-14T22:13:21.500Z\","
                "\"message\":\"replication lag is not watched\"}\n"));
}

TEST(ThrottleEventsTest, Text) {
  const std::string out = PrintThrottle(LogFormat::kText);
  EXPECT_THAT(
      out, HasSubstr("2023-11-14T22:13:20.000Z backfill job=users throttle=on "
                     "reason=\"replication_lag replica=r1:5432 2.3s > 1s\"\n"));
  EXPECT_THAT(
      out, HasSubstr("2023-11-14T22:13:21.500Z backfill job=users throttle=off "
                     "waited=1.5s\n"));
  EXPECT_THAT(out,
              HasSubstr("backfill: note: replication lag is not watched\n"));
}

TEST(ThrottleEventsTest, LiveLineShowsTheReasonWhileHeld) {
  const std::string out = PrintThrottle(LogFormat::kLive);
  EXPECT_THAT(out,
              HasSubstr("\r\033[Kusers starting  throttled: replication_lag "
                        "replica=r1:5432 2.3s > 1s"));
  // Drawn again without the reason once writes resume.
  EXPECT_THAT(out, HasSubstr("\r\033[Kusers starting\r\033[K"));
}

}  // namespace
}  // namespace backfill
