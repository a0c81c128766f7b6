#include "cli/argv_scrub.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ScrubArgvTest, HidesPasswordsInPlace) {
  std::vector<std::string> args = {"backfill",
                                   "run",
                                   "--dsn",
                                   "postgresql://app:s3cr3t@db:5432/shop",
                                   "--dsn=mysql://root:s3cr3t@h/app",
                                   "--table",
                                   "repo",
                                   "postgresql://a:x@h/d"};
  std::vector<std::vector<char>> storage;
  std::vector<char*> argv;
  for (const std::string& a : args) {
    storage.emplace_back(a.begin(), a.end());
    storage.back().push_back('\0');
  }
  for (auto& s : storage) argv.push_back(s.data());
  ScrubArgv(static_cast<int>(argv.size()), argv.data());

  EXPECT_STREQ(argv[0], "backfill");
  EXPECT_STREQ(argv[1], "run");
  EXPECT_STREQ(argv[3], "postgresql://app:***@db:5432/shop");
  EXPECT_STREQ(argv[4], "--dsn=mysql://root:***@h/app");
  EXPECT_STREQ(argv[6], "repo");
  // A one-letter password grows to "***": the result is truncated to the
  // argument's length, never written past it.
  EXPECT_EQ(std::strlen(argv[7]), args[7].size());
  EXPECT_STREQ(argv[7], "postgresql://a:***@h");
  for (size_t i = 0; i < storage.size(); ++i) {
    const std::string whole(storage[i].begin(), storage[i].end());
    EXPECT_THAT(whole, Not(HasSubstr("s3cr3t"))) << i;  // tail zero-filled
    EXPECT_EQ(storage[i].size(), args[i].size() + 1);
  }
}

TEST(ScrubArgvTest, HidesPasswordsOfEveryConnectionStringForm) {
  std::vector<std::string> args = {
      "backfill",
      "run",
      "--dsn",
      "postgresql://app:s3cr3t@10.0.0.1:5432,10.0.0.2:5432/prod?target_"
      "session_attrs=read-write",
      "host=db port=5432 dbname=prod password='s3cr3t x' user=app",
      "--dsn=postgresql://app:s3/cr@3t@db/prod"};
  std::vector<std::vector<char>> storage;
  std::vector<char*> argv;
  for (const std::string& a : args) {
    storage.emplace_back(a.begin(), a.end());
    storage.back().push_back('\0');
  }
  for (auto& s : storage) argv.push_back(s.data());
  ScrubArgv(static_cast<int>(argv.size()), argv.data());
  EXPECT_STREQ(argv[3],
               "postgresql://app:***@10.0.0.1:5432,10.0.0.2:5432/prod?target_"
               "session_attrs=read-write");
  EXPECT_STREQ(argv[4], "host=db port=5432 dbname=prod password=*** user=app");
  EXPECT_STREQ(argv[5], "--dsn=postgresql://app:***@db/prod");
  for (size_t i = 0; i < storage.size(); ++i) {
    const std::string whole(storage[i].begin(), storage[i].end());
    EXPECT_THAT(whole, Not(HasSubstr("s3cr"))) << i;
    EXPECT_THAT(whole, Not(HasSubstr("cr@3t"))) << i;
  }
}

}  // namespace
}  // namespace backfill
