#ifndef BACKFILL_CLI_TOML_CONFIG_H_
#define BACKFILL_CLI_TOML_CONFIG_H_

#include <CLI/CLI.hpp>
#include <istream>
#include <string>
#include <vector>

namespace backfill {

// Reads a TOML job file (via toml++) for CLI11's --config: each top-level key
// is the long name of a flag (`table = "repo"`, `set = ["a = b", "c = d"]`,
// `chunk-rows = 5000`, `dry-run = true`); flags on the command line override
// it. Unknown keys are rejected by CLI11. A TOML syntax error is a
// CLI::ParseError naming the line.
//
// CLI11 (2.1) reads a config file only for the main app, never for a
// subcommand. So `--config` is declared on the main app, the subcommands
// pass it up (fallthrough), and a TomlConfig made with `root` (the main app)
// files every key under the subcommand that was invoked, as if it had been
// given after that subcommand's name.
class TomlConfig : public CLI::Config {
 public:
  explicit TomlConfig(const CLI::App* root = nullptr) : root_(root) {}

  std::string to_config(const CLI::App*, bool, bool,
                        std::string) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* root_;  // not owned; null: keys belong to the app itself
};

}  // namespace backfill

#endif  // BACKFILL_CLI_TOML_CONFIG_H_
