#include "backfill/engine/schema_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace backfill {
namespace {

using ::testing::HasSubstr;

TableFacts Users() {
  TableFacts t;
  t.display = "users";
  t.columns = {{"id", "bigint", true, false, true},
               {"Login", "text", false, false, true},
               {"total", "integer", false, true, true},
               {"blob", "json", true, false, false}};
  t.primary_key = {"id"};
  t.can_select = t.can_update = t.can_insert = true;
  return t;
}

JobSpec Column(std::string column) {
  JobSpec spec;
  spec.table = TableName{"", "users"};
  spec.assignments = {Assignment{std::move(column), "1"}};
  return spec;
}

TEST(SchemaCheckTest, ColumnNamesFollowTheDatabasesRule) {
  const TableFacts users = Users();
  EXPECT_TRUE(
      CheckSchema(Column("Login"), users, nullptr, NameRule::kExact).ok());
  absl::StatusOr<SchemaMatch> exact =
      CheckSchema(Column("login"), users, nullptr, NameRule::kExact);
  EXPECT_EQ(exact.status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<SchemaMatch> folded =
      CheckSchema(Column("login"), users, nullptr, NameRule::kCaseInsensitive);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(folded->assigned[0]->name, "Login");  // the server's spelling
  EXPECT_EQ(folded->key[0]->name, "id");
}

TEST(SchemaCheckTest, AMissingPrivilegeIsRefusedAnUnknownOneIsNot) {
  TableFacts users = Users();
  users.can_update = false;
  absl::StatusOr<SchemaMatch> m =
      CheckSchema(Column("Login"), users, nullptr, NameRule::kExact);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(m.status().message(), HasSubstr("lacks UPDATE on \"users\""));
  users.can_update.reset();  // MySQL: its EXPLAIN checks instead
  EXPECT_TRUE(
      CheckSchema(Column("Login"), users, nullptr, NameRule::kExact).ok());
}

TEST(SchemaCheckTest, KeysMustBeNotNullAndWalkable) {
  const TableFacts users = Users();
  JobSpec spec = Column("Login");
  spec.key = {"Login"};
  EXPECT_THAT(
      CheckSchema(spec, users, nullptr, NameRule::kExact).status().message(),
      HasSubstr("is nullable"));
  spec.key = {"blob"};
  EXPECT_THAT(
      CheckSchema(spec, users, nullptr, NameRule::kExact).status().message(),
      HasSubstr("has type json, which cannot be walked exactly"));
  TableFacts nokey = users;
  nokey.primary_key.clear();
  EXPECT_EQ(CheckSchema(Column("Login"), nokey, nullptr, NameRule::kExact)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SchemaCheckTest, GeneratedColumnsAreNotAssigned) {
  absl::StatusOr<SchemaMatch> m =
      CheckSchema(Column("total"), Users(), nullptr, NameRule::kExact);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("is generated"));
}

TEST(SchemaCheckTest, ACopyCoversTheTargetsKeyAndNeedsInsert) {
  TableFacts target = Users();
  target.display = "users2";
  const TableFacts source = Users();
  JobSpec spec;
  spec.shape = Shape::kCopy;
  spec.table = TableName{"", "users2"};
  spec.source = TableName{"", "users"};
  spec.assignments = {Assignment{"Login", std::nullopt}};
  EXPECT_THAT(
      CheckSchema(spec, target, &source, NameRule::kExact).status().message(),
      HasSubstr("must include \"id\""));
  spec.assignments.push_back(Assignment{"id", std::nullopt});
  absl::StatusOr<SchemaMatch> m =
      CheckSchema(spec, target, &source, NameRule::kExact);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->copied[0]->name, "Login");
  EXPECT_EQ(m->conflict, std::vector<std::string>{"id"});
  target.can_insert = false;
  EXPECT_EQ(
      CheckSchema(spec, target, &source, NameRule::kExact).status().code(),
      absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace backfill
