#include "config/config_file.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <toml++/toml.h>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

std::string read_whole_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw UserError("cannot read --config " + path + ": no such file; check the path");
  }
  if (std::filesystem::is_directory(path, error)) {
    throw UserError("cannot read --config " + path + ": it is a directory, not a TOML or JSON file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read --config " + path + ": permission denied or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UserError("cannot read --config " + path + ": read error");
  return text.str();
}

std::vector<ConfigEntry> parse_json(const std::string& path, const std::string& text) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError("--config " + path + " is not valid JSON: " + error.what());
  }
  if (!document.is_object()) {
    throw UserError("--config " + path + " must hold a JSON object of flag names to values");
  }
  std::vector<ConfigEntry> entries;
  for (const auto& [key, value] : document.items()) {
    std::string text_value;
    if (value.is_string()) {
      text_value = value.get<std::string>();
    } else if (value.is_boolean()) {
      text_value = value.get<bool>() ? "true" : "false";
    } else if (value.is_number_integer()) {
      text_value = std::to_string(value.get<int64_t>());
    } else if (value.is_number()) {
      text_value = fmt::format("{}", value.get<double>());
    } else if (value.is_null()) {
      continue;  // null means "not set", as the guide's None
    } else {
      throw UserError("--config " + path + ": '" + key +
                      "' must be a string, number or true/false, not " + value.type_name());
    }
    entries.push_back({key, text_value});
  }
  return entries;
}

std::vector<ConfigEntry> parse_toml(const std::string& path, const std::string& text) {
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    throw UserError(fmt::format("--config {} is not valid TOML (line {}, column {}): {}", path,
                                where.line, where.column, error.description()));
  }
  std::vector<ConfigEntry> entries;
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    std::string text_value;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      text_value = *s;
    } else if (node.is_boolean()) {
      text_value = *node.value<bool>() ? "true" : "false";
    } else if (node.is_integer()) {
      text_value = std::to_string(*node.value<int64_t>());
    } else if (node.is_floating_point()) {
      text_value = fmt::format("{}", *node.value<double>());
    } else {
      throw UserError("--config " + path + ": '" + name +
                      "' must be a string, number or true/false (tables and arrays are not "
                      "flags)");
    }
    entries.push_back({name, text_value});
  }
  return entries;
}

}  // namespace

std::vector<ConfigEntry> read_config_file(const std::string& path) {
  const std::string text = read_whole_file(path);
  const std::string extension = to_lower(std::filesystem::path(path).extension().string());
  if (extension == ".json") return parse_json(path, text);
  if (extension == ".toml") return parse_toml(path, text);
  // Unknown extension: JSON starts with '{'; everything else is read as TOML.
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return parse_json(path, text);
  return parse_toml(path, text);
}

}  // namespace utt
