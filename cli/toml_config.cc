#include "cli/toml_config.h"

#include <toml++/toml.h>

#include <sstream>

namespace backfill {
namespace {

// A TOML scalar as the string CLI11 would have read from the command line.
bool ScalarToString(const toml::node& node, std::string* out) {
  if (auto s = node.value<std::string>()) {
    *out = *s;
  } else if (auto b = node.value_exact<bool>()) {
    *out = *b ? "true" : "false";
  } else if (auto i = node.value_exact<int64_t>()) {
    *out = std::to_string(*i);
  } else if (auto d = node.value_exact<double>()) {
    std::ostringstream os;
    os << *d;
    *out = os.str();
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string TomlConfig::to_config(const CLI::App*, bool, bool,
                                  std::string) const {
  return "";
}

std::vector<CLI::ConfigItem> TomlConfig::from_config(
    std::istream& input) const {
  std::stringstream buffer;
  buffer << input.rdbuf();
  toml::table table;
  try {
    table = toml::parse(buffer.str());
  } catch (const toml::parse_error& e) {
    throw CLI::ParseError("config file: " + std::string(e.description()) +
                              " at line " +
                              std::to_string(e.source().begin.line),
                          CLI::ExitCodes::ConversionError);
  }
  std::vector<std::string> parents;
  if (root_ != nullptr && !root_->get_subcommands().empty()) {
    parents.push_back(root_->get_subcommands().front()->get_name());
  }
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, node] : table) {
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = std::string(key.str());
    if (const toml::array* array = node.as_array()) {
      for (const toml::node& element : *array) {
        std::string value;
        if (!ScalarToString(element, &value)) {
          throw CLI::ParseError("config file: key \"" + item.name +
                                    "\" must be an array of scalars",
                                CLI::ExitCodes::ConversionError);
        }
        item.inputs.push_back(value);
      }
    } else {
      std::string value;
      if (!ScalarToString(node, &value)) {
        throw CLI::ParseError(
            "config file: key \"" + item.name +
                "\" must be a string, number, boolean or array",
            CLI::ExitCodes::ConversionError);
      }
      item.inputs.push_back(value);
    }
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace backfill
