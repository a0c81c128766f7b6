#ifndef BACKFILL_CLI_TOML_CONFIG_H_
#define BACKFILL_CLI_TOML_CONFIG_H_

#include <istream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace backfill {

// Reads a TOML job file (via toml++) for CLI11's --config: each top-level key
// is the long name of a flag (`table = "repo"`, `set = ["a = b", "c = d"]`,
// `chunk-rows = 5000`, `dry-run = true`); flags on the command line override
// it. Unknown keys are rejected by CLI11. A TOML syntax error is a
// CLI::ParseError naming the line.
class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace backfill

#endif  // BACKFILL_CLI_TOML_CONFIG_H_
