#include "backfill/engine/job_spec.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;

JobSpec ColumnSpec() {
  JobSpec spec;
  spec.shape = Shape::kColumn;
  spec.table = {"", "users"};
  spec.assignments = {{"login_name", "username"}};
  return spec;
}

JobSpec JoinSpec() {
  JobSpec spec;
  spec.shape = Shape::kJoin;
  spec.table = {"", "repo"};
  spec.source = TableName{"", "star"};
  spec.on = "star.repo_name = repo.repo_name";
  spec.assignments = {{"star_count", "star.star_count"}};
  return spec;
}

JobSpec CopySpec() {
  JobSpec spec;
  spec.shape = Shape::kCopy;
  spec.table = {"", "orders_v2"};
  spec.source = TableName{"", "orders"};
  spec.assignments = {{"id", std::nullopt}, {"total", "amount::numeric"}};
  return spec;
}

TEST(ParseAssignmentTest, SplitsAtFirstEquals) {
  absl::StatusOr<Assignment> a =
      ParseAssignment("  new_col =  lower(a) = 'x' ");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->column, "new_col");
  EXPECT_EQ(a->expression, "lower(a) = 'x'");

  absl::StatusOr<Assignment> quoted = ParseAssignment("\"New Col\" = 1");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(quoted->column, "New Col");
  EXPECT_EQ(quoted->expression, "1");
}

TEST(ParseAssignmentTest, RejectsBadInput) {
  for (const char* text :
       {"no_equals", " = expr", "col = ", "col = x) OR (true",
        "col = 1; drop table t", "col = a -- c"}) {
    EXPECT_EQ(ParseAssignment(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(ParseColumnListTest, MixesPlainColumnsAndExpressions) {
  absl::StatusOr<std::vector<Assignment>> list =
      ParseColumnList("a, b, c = coalesce(x, y)");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].column, "a");
  EXPECT_EQ((*list)[0].expression, std::nullopt);
  EXPECT_EQ((*list)[1].column, "b");
  EXPECT_EQ((*list)[1].expression, std::nullopt);
  EXPECT_EQ((*list)[2].column, "c");
  EXPECT_EQ((*list)[2].expression, "coalesce(x, y)");
}

TEST(ParseColumnListTest, RejectsEmptyAndBadItems) {
  for (const char* text : {"", "  ", "a,,b", "a, c = (x"}) {
    EXPECT_EQ(ParseColumnList(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(ParseKeyColumnsTest, ParsesAndUnquotes) {
  absl::StatusOr<std::vector<std::string>> key = ParseKeyColumns("a, \"B c\"");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, (std::vector<std::string>{"a", "B c"}));
  EXPECT_EQ(ParseKeyColumns("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKeyColumns("a,").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseTableNameTest, SchemaQualifiedAndQuoted) {
  absl::StatusOr<TableName> t = ParseTableName("s.t", "--table");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (TableName{"s", "t"}));
  EXPECT_EQ(t->ToString(), "s.t");

  absl::StatusOr<TableName> dotted = ParseTableName("\"a.b\"", "--table");
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(*dotted, (TableName{"", "a.b"}));

  absl::StatusOr<TableName> both =
      ParseTableName("\"My Schema\".`t`", "--table");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, (TableName{"My Schema", "t"}));
}

TEST(ParseTableNameTest, HostileTextStaysOneName) {
  absl::StatusOr<TableName> t =
      ParseTableName("accounts; drop table x", "--table");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->schema, "");
  EXPECT_EQ(t->name, "accounts; drop table x");
}

TEST(ParseTableNameTest, RejectsMalformedNames) {
  for (const char* text : {"", "a.b.c", "s.", ".t", "\"\""}) {
    absl::StatusOr<TableName> t = ParseTableName(text, "--from");
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(t.status().message(), HasSubstr("--from")) << text;
  }
}

TEST(ValidateJobSpecTest, ValidShapes) {
  EXPECT_TRUE(ValidateJobSpec(ColumnSpec()).ok());
  EXPECT_TRUE(ValidateJobSpec(JoinSpec()).ok());
  EXPECT_TRUE(ValidateJobSpec(CopySpec()).ok());
}

void ExpectInvalid(const JobSpec& spec, const std::string& words) {
  absl::Status s = ValidateJobSpec(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
      << DescribeJobSpec(spec);
  EXPECT_THAT(s.message(), HasSubstr(words));
}

TEST(ValidateJobSpecTest, ColumnShapeRequiredAndForbiddenFields) {
  JobSpec s = ColumnSpec();
  s.table = {};
  ExpectInvalid(s, "no table");
  s = ColumnSpec();
  s.source = TableName{"", "other"};
  ExpectInvalid(s, "`from`");
  s = ColumnSpec();
  s.on = "a = b";
  ExpectInvalid(s, "`on`");
  s = ColumnSpec();
  s.assignments.clear();
  ExpectInvalid(s, "`sets`");
  s = ColumnSpec();
  s.assignments = {{"x", std::nullopt}};
  ExpectInvalid(s, "no expression");
  s = ColumnSpec();
  s.assignments.push_back({"login_name", "other"});
  ExpectInvalid(s, "assigned twice");
}

TEST(ValidateJobSpecTest, JoinShapeRequiredFields) {
  JobSpec s = JoinSpec();
  s.source.reset();
  ExpectInvalid(s, "`from`");
  s = JoinSpec();
  s.on.clear();
  ExpectInvalid(s, "`on`");
  s = JoinSpec();
  s.on = "a = b) OR (true";
  ExpectInvalid(s, "`on`");
}

TEST(ValidateJobSpecTest, CopyShapeRequiredAndForbiddenFields) {
  JobSpec s = CopySpec();
  s.source.reset();
  ExpectInvalid(s, "`from`");
  s = CopySpec();
  s.on = "a = b";
  ExpectInvalid(s, "`on`");
  s = CopySpec();
  s.source = s.table;
  ExpectInvalid(s, "differ");
  s = CopySpec();
  s.assignments.clear();
  ExpectInvalid(s, "`columns`");
}

TEST(ValidateJobSpecTest, ChecksEveryFragment) {
  JobSpec s = ColumnSpec();
  s.where = "x) OR (true";
  ExpectInvalid(s, "`where`");
  s = ColumnSpec();
  s.assignments = {{"a", "1; drop table t"}};
  ExpectInvalid(s, "expression for a");
  s = ColumnSpec();
  s.key = {"id", ""};
  ExpectInvalid(s, "`key`");
}

// The shape follows from the members given, and every error names the
// member in backquotes (the command turns them into its flags).
TEST(ParseJobTextTest, TheShapeFollowsFromTheMembersGiven) {
  absl::StatusOr<JobSpec> column =
      ParseJobText({.table = "users", .sets = {"login_name = lower(name)"}});
  ASSERT_TRUE(column.ok()) << column.status();
  EXPECT_EQ(column->shape, Shape::kColumn);
  EXPECT_EQ(column->table.name, "users");
  absl::StatusOr<JobSpec> join =
      ParseJobText({.job = "j",
                    .table = "repo",
                    .from = "star",
                    .on = "star.repo_name = repo.repo_name",
                    .sets = {"star_count = star.star_count"},
                    .key = "id"});
  ASSERT_TRUE(join.ok()) << join.status();
  EXPECT_EQ(join->shape, Shape::kJoin);
  EXPECT_EQ(join->job, "j");
  EXPECT_EQ(join->source->name, "star");
  EXPECT_EQ(join->key, std::vector<std::string>{"id"});
  absl::StatusOr<JobSpec> copy = ParseJobText(
      {.from = "orders", .into = "orders_v2", .columns = "id, amount"});
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->shape, Shape::kCopy);
  EXPECT_EQ(copy->table.name, "orders_v2");
  EXPECT_EQ(copy->walked_table().name, "orders");
}

TEST(ParseJobTextTest, ErrorsNameTheMembers) {
  struct Case {
    JobText text;
    const char* message;
  };
  const Case cases[] = {
      {{.sets = {"a = b"}},
       "no table: give `table` T (column, join) or `from` OLD `into` NEW"},
      {{.table = "t", .from = "o", .into = "n", .columns = "id"},
       "`table` and `into` exclude each other"},
      {{.into = "n", .columns = "id"}, "`into` needs `from` OLD"},
      {{.from = "o", .into = "n", .sets = {"a = b"}, .columns = "id"},
       "the copy shape takes `columns`, not `sets`"},
      {{.from = "o", .into = "n"}, "the copy shape needs `columns`"},
      {{.table = "t", .sets = {"a = b"}, .columns = "id"},
       "`columns` belongs to the copy shape (`into`)"},
      {{.table = "t", .sets = {"a"}},
       "`sets` \"a\": expected \"column = expression\""},
      {{.table = "t", .on = "a = b", .sets = {"a = b"}},
       "`on` needs `from` (the join shape)"},
      {{.table = "t", .from = "s", .sets = {"a = b"}},
       "the join shape needs `on`"},
      {{.table = "a.b.c", .sets = {"a = b"}}, "`table` \"a.b.c\""},
      {{.table = "t", .sets = {"a = b"}, .key = ","}, "`key`"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<JobSpec> spec = ParseJobText(c.text);
    ASSERT_FALSE(spec.ok()) << c.message;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(c.message));
  }
}

TEST(DefaultJobNameTest, NamesTheWrittenTable) {
  EXPECT_EQ(DefaultJobName(ColumnSpec()), "users");
  EXPECT_EQ(DefaultJobName(JoinSpec()), "repo");
  EXPECT_EQ(DefaultJobName(CopySpec()), "orders_v2");
  JobSpec s = CopySpec();
  s.table = {"app", "orders_v2"};
  EXPECT_EQ(DefaultJobName(s), "app.orders_v2");
}

TEST(DescribeJobSpecTest, CanonicalForms) {
  EXPECT_EQ(DescribeJobSpec(JoinSpec()),
            "join repo from star on (star.repo_name = repo.repo_name) "
            "set star_count = (star.star_count)");
  EXPECT_EQ(
      DescribeJobSpec(CopySpec()),
      "copy from orders into orders_v2 columns id, total = (amount::numeric)");
  JobSpec s = ColumnSpec();
  s.where = "id > 5";
  s.key = {"id"};
  EXPECT_EQ(DescribeJobSpec(s),
            "column users set login_name = (username) where (id > 5) key (id)");
  // Names that are not plain identifiers are quoted, " doubled.
  s = ColumnSpec();
  s.table = {"My Schema", "a.b"};
  s.assignments = {{"New \"Col\"", "1"}};
  s.key = {"a, b", "c"};
  EXPECT_EQ(DescribeJobSpec(s),
            "column \"My Schema\".\"a.b\" set \"New \"\"Col\"\"\" = (1) "
            "key (\"a, b\", c)");
}

TEST(FingerprintJobSpecTest, PinnedValueIsStableAcrossVersions) {
  // Computed once; a change here means every existing checkpoint would be
  // refused on resume.
  EXPECT_EQ(FingerprintJobSpec(JoinSpec()), "420dcbe6a65a903a");
}

TEST(FingerprintJobSpecTest, EqualSpecsGiveEqualFingerprints) {
  JobSpec a = CopySpec();
  JobSpec b = CopySpec();
  EXPECT_EQ(FingerprintJobSpec(a), FingerprintJobSpec(b));
  EXPECT_EQ(FingerprintJobSpec(a).size(), 16u);
  EXPECT_EQ(FingerprintJobSpec(a).find_first_not_of("0123456789abcdef"),
            std::string::npos);
  // The job name is the checkpoint's key, not part of what it does.
  b.job = "other_name";
  EXPECT_EQ(FingerprintJobSpec(a), FingerprintJobSpec(b));
}

TEST(FingerprintJobSpecTest, SensitiveToEveryField) {
  const std::vector<std::function<void(JobSpec*)>> changes = {
      [](JobSpec* s) { s->table.name = "repo2"; },
      [](JobSpec* s) { s->table.schema = "app"; },
      [](JobSpec* s) { s->source->name = "stars"; },
      [](JobSpec* s) { s->source->schema = "app"; },
      [](JobSpec* s) { s->on = "star.repo_id = repo.id"; },
      [](JobSpec* s) { s->assignments[0].column = "stars"; },
      [](JobSpec* s) { s->assignments[0].expression = "star.star_count + 0"; },
      [](JobSpec* s) {
        s->assignments.push_back({"other", "1"});
      },
      [](JobSpec* s) { s->where = "repo.id > 0"; },
      [](JobSpec* s) { s->key = {"id"}; },
      [](JobSpec* s) {
        s->key = {"id", "name"};
      },
      [](JobSpec* s) {
        s->shape = Shape::kColumn;
        s->source.reset();
        s->on.clear();
      },
  };
  const std::string base = FingerprintJobSpec(JoinSpec());
  for (size_t i = 0; i < changes.size(); ++i) {
    JobSpec changed = JoinSpec();
    changes[i](&changed);
    EXPECT_NE(FingerprintJobSpec(changed), base) << "change " << i;
  }
  // Copy: a plain column versus the same column as an expression.
  JobSpec plain = CopySpec();
  JobSpec expr = CopySpec();
  expr.assignments[0].expression = "id";
  EXPECT_NE(FingerprintJobSpec(plain), FingerprintJobSpec(expr));
}

TEST(FingerprintJobSpecTest, IdentifiersWithPunctuationDoNotCollide) {
  // A table literally named "a.b" is not table b in schema a.
  JobSpec dotted = ColumnSpec();
  dotted.table = {"", "a.b"};
  JobSpec qualified = ColumnSpec();
  qualified.table = {"a", "b"};
  EXPECT_NE(FingerprintJobSpec(dotted), FingerprintJobSpec(qualified));

  // One key column named "a, b" is not the two columns a and b.
  JobSpec one = ColumnSpec();
  one.key = {"a, b"};
  JobSpec two = ColumnSpec();
  two.key = {"a", "b"};
  EXPECT_NE(FingerprintJobSpec(one), FingerprintJobSpec(two));
}

TEST(ShapeNameTest, Names) {
  EXPECT_EQ(ShapeName(Shape::kColumn), "column");
  EXPECT_EQ(ShapeName(Shape::kJoin), "join");
  EXPECT_EQ(ShapeName(Shape::kCopy), "copy");
}

TEST(JobSpecTest, WalkedTable) {
  EXPECT_EQ(ColumnSpec().walked_table().name, "users");
  EXPECT_EQ(JoinSpec().walked_table().name, "repo");
  EXPECT_EQ(CopySpec().walked_table().name, "orders");
}

}  // namespace
}  // namespace backfill
