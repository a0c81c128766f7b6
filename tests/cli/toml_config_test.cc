#include "cli/toml_config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<CLI::ConfigItem> Parse(const std::string& text) {
  std::istringstream in(text);
  return TomlConfig().from_config(in);
}

const CLI::ConfigItem* Find(const std::vector<CLI::ConfigItem>& items,
                            const std::string& name) {
  for (const CLI::ConfigItem& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

TEST(TomlConfigTest, ScalarsAndArrays) {
  std::vector<CLI::ConfigItem> items = Parse(R"toml(
table = "repo"
set = ["a = lower(b)", "c = 'x, y'"]
chunk-rows = 5000
dry-run = true
restart = false
ratio = 0.5
)toml");
  ASSERT_EQ(items.size(), 6u);
  const CLI::ConfigItem* table = Find(items, "table");
  ASSERT_NE(table, nullptr);
  EXPECT_THAT(table->inputs, ElementsAre("repo"));
  ASSERT_NE(Find(items, "set"), nullptr);
  EXPECT_THAT(Find(items, "set")->inputs,
              ElementsAre("a = lower(b)", "c = 'x, y'"));
  ASSERT_NE(Find(items, "chunk-rows"), nullptr);
  EXPECT_THAT(Find(items, "chunk-rows")->inputs, ElementsAre("5000"));
  ASSERT_NE(Find(items, "dry-run"), nullptr);
  EXPECT_THAT(Find(items, "dry-run")->inputs, ElementsAre("true"));
  ASSERT_NE(Find(items, "restart"), nullptr);
  EXPECT_THAT(Find(items, "restart")->inputs, ElementsAre("false"));
  ASSERT_NE(Find(items, "ratio"), nullptr);
  EXPECT_THAT(Find(items, "ratio")->inputs, ElementsAre("0.5"));
}

TEST(TomlConfigTest, SyntaxErrorThrowsParseErrorWithLine) {
  try {
    Parse("table = \"repo\"\nchunk-rows = = 5\n");
    FAIL() << "expected CLI::ParseError";
  } catch (const CLI::ParseError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("line 2"));
  }
}

TEST(TomlConfigTest, TablesAreRejected) {
  EXPECT_THROW(Parse("[section]\nkey = 1\n"), CLI::ParseError);
  EXPECT_THROW(Parse("set = [[1, 2]]\n"), CLI::ParseError);
}

// End to end with CLI11: the file fills flags, the command line overrides.
TEST(TomlConfigTest, FlagsOverrideTheFile) {
  const std::string path = ::testing::TempDir() + "/backfill_toml_test.toml";
  {
    std::ofstream out(path);
    out << "table = \"repo\"\nchunk-rows = 5000\nset = [\"a = b\", \"c = d\"]\n"
           "dry-run = true\n";
  }
  CLI::App app;
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config");
  std::string table;
  int64_t chunk_rows = 1000;
  std::vector<std::string> sets;
  bool dry_run = false;
  app.add_option("--table", table);
  app.add_option("--chunk-rows", chunk_rows);
  app.add_option("--set", sets);
  app.add_flag("--dry-run", dry_run);
  std::vector<std::string> args = {"--chunk-rows", "42", "--config", path};
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  app.parse(args);
  EXPECT_EQ(table, "repo");
  EXPECT_EQ(chunk_rows, 42);
  EXPECT_THAT(sets, ElementsAre("a = b", "c = d"));
  EXPECT_TRUE(dry_run);
  std::remove(path.c_str());
}

// CLI11 reads config files for the main app only. Declared there, as
// cli/main.cc does, with a root-aware TomlConfig, the keys land in the
// subcommand given, and that subcommand's own flags still win.
TEST(TomlConfigTest, KeysGoToTheSubcommandGiven) {
  const std::string path = ::testing::TempDir() + "/backfill_toml_sub.toml";
  {
    std::ofstream out(path);
    out << "table = \"repo\"\nchunk-rows = 5000\n";
  }
  CLI::App app;
  app.config_formatter(std::make_shared<TomlConfig>(&app));
  app.set_config("--config");
  app.allow_config_extras(CLI::config_extras_mode::error);
  CLI::App* run = app.add_subcommand("run");
  run->fallthrough();
  std::string table;
  int64_t chunk_rows = 1000;
  run->add_option("--table", table);
  run->add_option("--chunk-rows", chunk_rows);
  std::vector<std::string> args = {"run", "--config", path, "--chunk-rows",
                                   "7"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(table, "repo");
  EXPECT_EQ(chunk_rows, 7);
  std::remove(path.c_str());
}

// With extras set to error, as `backfill run` does (cli/main.cc), a
// misspelled key is an error instead of a silently dropped flag.
TEST(TomlConfigTest, UnknownKeyIsRejected) {
  const std::string path = ::testing::TempDir() + "/backfill_toml_unknown.toml";
  {
    std::ofstream out(path);
    out << "tabel = \"repo\"\n";
  }
  CLI::App app;
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config");
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::string table;
  app.add_option("--table", table);
  std::vector<std::string> args = {"--config", path};
  std::reverse(args.begin(), args.end());
  EXPECT_THROW(app.parse(args), CLI::ParseError);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace backfill
