#include "cli/flags.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;

RunFlags ColumnFlags() {
  RunFlags f;
  f.table = "repo";
  f.sets = {"login_name = username"};
  return f;
}

void ExpectBad(const absl::StatusOr<JobSpec>& spec, const std::string& words) {
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr(words));
}

TEST(BuildJobSpecTest, ColumnShape) {
  RunFlags f = ColumnFlags();
  f.where = "id > 0";
  f.key = "id";
  f.common.job = "j1";
  absl::StatusOr<JobSpec> spec = BuildJobSpec(f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shape, Shape::kColumn);
  EXPECT_EQ(spec->job, "j1");
  EXPECT_EQ(spec->table, (TableName{"", "repo"}));
  EXPECT_FALSE(spec->source.has_value());
  ASSERT_EQ(spec->assignments.size(), 1u);
  EXPECT_EQ(spec->assignments[0].column, "login_name");
  EXPECT_EQ(spec->assignments[0].expression, "username");
  EXPECT_EQ(spec->where, "id > 0");
  EXPECT_EQ(spec->key, std::vector<std::string>{"id"});
}

TEST(BuildJobSpecTest, JoinShape) {
  RunFlags f = ColumnFlags();
  f.from = "app.star";
  f.on = "star.repo_name = repo.repo_name";
  f.sets = {"star_count = star.star_count"};
  absl::StatusOr<JobSpec> spec = BuildJobSpec(f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shape, Shape::kJoin);
  EXPECT_EQ(spec->source, (TableName{"app", "star"}));
  EXPECT_EQ(spec->on, "star.repo_name = repo.repo_name");
}

TEST(BuildJobSpecTest, CopyShape) {
  RunFlags f;
  f.from = "orders";
  f.into = "orders_v2";
  f.columns = "id, total = amount::numeric";
  absl::StatusOr<JobSpec> spec = BuildJobSpec(f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shape, Shape::kCopy);
  EXPECT_EQ(spec->table, (TableName{"", "orders_v2"}));
  EXPECT_EQ(spec->source, (TableName{"", "orders"}));
  ASSERT_EQ(spec->assignments.size(), 2u);
  EXPECT_EQ(spec->assignments[0].expression, std::nullopt);
  EXPECT_EQ(spec->assignments[1].expression, "amount::numeric");
}

TEST(BuildJobSpecTest, InconsistentFlags) {
  RunFlags f;
  f.into = "orders_v2";
  f.columns = "id";
  ExpectBad(BuildJobSpec(f), "--from");  // --into without --from

  f.from = "orders";
  f.table = "repo";
  ExpectBad(BuildJobSpec(f), "--table");  // --table with --into

  f.table.clear();
  f.sets = {"a = b"};
  ExpectBad(BuildJobSpec(f), "--set");  // copy takes --columns

  f.sets.clear();
  f.columns.clear();
  ExpectBad(BuildJobSpec(f), "--columns");  // copy needs --columns

  RunFlags c = ColumnFlags();
  c.columns = "a, b";
  ExpectBad(BuildJobSpec(c), "--columns");  // --columns with --table

  RunFlags none;
  none.sets = {"a = b"};
  ExpectBad(BuildJobSpec(none), "no table");

  RunFlags on = ColumnFlags();
  on.on = "a = b";
  ExpectBad(BuildJobSpec(on), "--on");  // --on without --from

  RunFlags join = ColumnFlags();
  join.from = "star";
  ExpectBad(BuildJobSpec(join), "--on");  // join needs --on

  RunFlags where = ColumnFlags();
  where.where = "x) OR (true";
  ExpectBad(BuildJobSpec(where), "--where");

  RunFlags set = ColumnFlags();
  set.sets = {"no equals sign"};
  ExpectBad(BuildJobSpec(set), "--set");

  RunFlags table = ColumnFlags();
  table.table = "a.b.c";
  ExpectBad(BuildJobSpec(table), "--table");

  RunFlags key = ColumnFlags();
  key.key = "a,,b";
  ExpectBad(BuildJobSpec(key), "--key");
}

TEST(BuildChunkingTest, Defaults) {
  absl::StatusOr<ChunkSizerOptions> c = BuildChunking(RunFlags{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->initial_rows, 1000);
  EXPECT_EQ(c->target_chunk_time, absl::Milliseconds(500));
  EXPECT_EQ(c->min_rows, 10);
  EXPECT_EQ(c->max_rows, 1000000);
}

TEST(BuildChunkingTest, DurationsAndFixedSize) {
  RunFlags f;
  f.target_chunk_time = "2s";
  ASSERT_TRUE(BuildChunking(f).ok());
  EXPECT_EQ(BuildChunking(f)->target_chunk_time, absl::Seconds(2));

  f.target_chunk_time = "0";
  f.chunk_rows = 5;  // below --min-chunk-rows: fixed size still means 5
  absl::StatusOr<ChunkSizerOptions> fixed = BuildChunking(f);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->target_chunk_time, absl::ZeroDuration());
  EXPECT_EQ(ChunkSizer(*fixed).next_rows(), 5);
}

TEST(BuildChunkingTest, BadValues) {
  for (const char* d : {"fast", "500", "-1s", ""}) {
    RunFlags f;
    f.target_chunk_time = d;
    absl::StatusOr<ChunkSizerOptions> c = BuildChunking(f);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << d;
    EXPECT_THAT(c.status().message(), HasSubstr("--target-chunk-time")) << d;
  }
  RunFlags zero;
  zero.chunk_rows = 0;
  EXPECT_EQ(BuildChunking(zero).status().code(),
            absl::StatusCode::kInvalidArgument);
  RunFlags inverted;
  inverted.min_chunk_rows = 100;
  inverted.max_chunk_rows = 50;
  EXPECT_EQ(BuildChunking(inverted).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class PasswordFileTest : public ::testing::Test {
 protected:
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& content) {
    std::ofstream out(path_, std::ios::binary);
    out << content;
  }
  const std::string path_ = ::testing::TempDir() + "/backfill_password_test";
};

TEST_F(PasswordFileTest, ReadsFirstLine) {
  Write("s3cr3t\nsecond line\n");
  CommonFlags f;
  f.dsn = "postgresql://app@h/db";
  f.password_file = path_;
  absl::StatusOr<ConnectOptions> o = BuildConnectOptions(f);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->dsn, "postgresql://app@h/db");
  EXPECT_EQ(o->password, "s3cr3t");
}

TEST_F(PasswordFileTest, StripsCarriageReturnAndAllowsNoNewline) {
  Write("pa ss\r\n");
  CommonFlags f;
  f.password_file = path_;
  EXPECT_EQ(BuildConnectOptions(f)->password, "pa ss");
  Write("last");
  EXPECT_EQ(BuildConnectOptions(f)->password, "last");
}

TEST_F(PasswordFileTest, MissingOrEmptyFileIsInvalidArgument) {
  CommonFlags f;
  f.password_file = path_ + ".does-not-exist";
  absl::StatusOr<ConnectOptions> o = BuildConnectOptions(f);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("--password-file"));

  Write("");
  f.password_file = path_;
  EXPECT_EQ(BuildConnectOptions(f).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildConnectOptionsTest, NoPasswordFileMeansNoPassword) {
  CommonFlags f;
  f.dsn = "mysql://root@h/app";
  absl::StatusOr<ConnectOptions> o = BuildConnectOptions(f);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->password, std::nullopt);
}

}  // namespace
}  // namespace backfill
