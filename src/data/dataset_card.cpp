#include "data/dataset_card.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "util/error.h"

namespace utt {
namespace {

// The YAML between a first line "---" and the next line "---"; nullopt without one.
std::optional<std::string> front_matter(const std::string& readme) {
  std::string text = readme;
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // a UTF-8 byte order mark
  if (!text.starts_with("---\n") && !text.starts_with("---\r\n")) return std::nullopt;
  size_t at = text.find('\n') + 1;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "---") return text.substr(text.find('\n') + 1, at - text.find('\n') - 1);
    at = end + 1;
  }
  return std::nullopt;  // no closing line: not front matter
}

[[noreturn]] void refuse(const std::string& source, const std::string& field, const std::string& problem) {
  throw UserError(source + ": the dataset card's " + field + " " + problem);
}

std::vector<std::string> patterns_of(const YAML::Node& node, const std::string& source, const std::string& field) {
  std::vector<std::string> patterns;
  if (node.IsScalar()) {
    patterns.push_back(node.as<std::string>());
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) refuse(source, field, "must be a path pattern or a list of them");
      patterns.push_back(item.as<std::string>());
    }
  } else {
    refuse(source, field, "must be a path pattern or a list of them");
  }
  if (patterns.empty()) refuse(source, field, "is an empty list");
  return patterns;
}

CardConfig read_config(const YAML::Node& node, size_t index, const std::string& source) {
  const std::string where = "configs[" + std::to_string(index) + "]";
  if (!node.IsMap()) refuse(source, where, "must be a mapping with config_name and data_files");
  CardConfig config;
  config.name = node["config_name"] ? node["config_name"].as<std::string>() : "default";
  if (node["default"]) config.is_default = node["default"].as<bool>();
  const YAML::Node files = node["data_files"];
  if (!files) return config;
  const std::string field = where + ".data_files";
  if (files.IsScalar()) {
    config.data_files.push_back({"train", patterns_of(files, source, field)});
  } else if (files.IsMap()) {
    for (const auto& entry : files) {
      const std::string split = entry.first.as<std::string>();
      config.data_files.push_back({split, patterns_of(entry.second, source, field + "." + split)});
    }
  } else if (files.IsSequence()) {
    // Either a list of {split, path} entries or a list of patterns (the train split).
    std::vector<std::string> train;
    for (size_t i = 0; i < files.size(); ++i) {
      const YAML::Node& item = files[i];
      const std::string item_field = field + "[" + std::to_string(i) + "]";
      if (item.IsScalar()) {
        train.push_back(item.as<std::string>());
      } else if (item.IsMap() && item["path"]) {
        const std::string split = item["split"] ? item["split"].as<std::string>() : "train";
        config.data_files.push_back({split, patterns_of(item["path"], source, item_field + ".path")});
      } else {
        refuse(source, item_field, "must be a path pattern or {split, path}");
      }
    }
    if (!train.empty()) config.data_files.push_back({"train", train});
  } else {
    refuse(source, field, "must be a pattern, a list, or a mapping of split names to patterns");
  }
  return config;
}

// fsspec-style glob -> regex: `**/` any folders (or none), `**` anything, `*` and `?` within
// one path segment, `[...]` a class (`[!...]` negated).
std::regex pattern_regex(std::string pattern) {
  if (pattern.starts_with("./")) pattern.erase(0, 2);
  std::string regex;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*' && i + 1 < pattern.size() && pattern[i + 1] == '*') {
      const bool folders = i + 2 < pattern.size() && pattern[i + 2] == '/';
      regex += folders ? "(?:.*/)?" : ".*";
      i += folders ? 2 : 1;
    } else if (c == '*') {
      regex += "[^/]*";
    } else if (c == '?') {
      regex += "[^/]";
    } else if (c == '[') {
      const size_t close = pattern.find(']', i + 1);
      if (close == std::string::npos) {
        regex += "\\[";
        continue;
      }
      std::string body = pattern.substr(i + 1, close - i - 1);
      if (!body.empty() && body[0] == '!') body[0] = '^';
      regex += "[" + body + "]";
      i = close;
    } else if (std::string("\\^$.|+(){}").find(c) != std::string::npos) {
      regex += std::string("\\") + c;
    } else {
      regex += c;
    }
  }
  return std::regex(regex);
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

std::optional<DatasetCard> parse_dataset_card(const std::string& readme, const std::string& source) {
  const std::optional<std::string> yaml = front_matter(readme);
  if (!yaml) return std::nullopt;
  DatasetCard card;
  try {
    const YAML::Node root = YAML::Load(*yaml);
    if (!root.IsMap()) return std::nullopt;
    if (const YAML::Node configs = root["configs"]) {
      if (!configs.IsSequence()) refuse(source, "configs", "must be a list");
      for (size_t i = 0; i < configs.size(); ++i) card.configs.push_back(read_config(configs[i], i, source));
    }
    if (const YAML::Node info = root["dataset_info"]) {
      // One mapping (a single config) or a list of them.
      auto add = [&](const YAML::Node& entry) {
        if (entry.IsMap()) card.info_configs.push_back(entry["config_name"] ? entry["config_name"].as<std::string>() : "default");
      };
      if (info.IsSequence()) {
        for (const YAML::Node& entry : info) add(entry);
      } else {
        add(info);
      }
    }
  } catch (const YAML::Exception& error) {
    throw UserError(source + ": the dataset card (the YAML at the top of README.md) cannot be read: " +
                    error.msg + " at line " + std::to_string(error.mark.line + 1) + "; fix the card");
  }
  return card;
}

bool matches_data_files_pattern(const std::string& pattern, const std::string& relative_path) {
  try {
    return std::regex_match(relative_path, pattern_regex(pattern));
  } catch (const std::regex_error&) {
    return false;
  }
}

std::optional<CardSplits> card_splits(
    const DatasetCard& card, const std::optional<std::string>& config,
    const std::vector<std::string>& relative_paths, const std::string& dataset_name) {
  std::vector<const CardConfig*> with_files;
  for (const CardConfig& c : card.configs) {
    if (!c.data_files.empty()) with_files.push_back(&c);
  }
  if (with_files.empty()) return std::nullopt;
  std::vector<std::string> names;
  for (const CardConfig* c : with_files) names.push_back(c->name);
  const CardConfig* chosen = nullptr;
  if (config) {
    for (const CardConfig* c : with_files) {
      if (c->name == *config) chosen = c;
    }
    if (!chosen) {
      throw UserError("config '" + *config + "' not found in " + dataset_name + ": its dataset card declares " +
                      join(names) + "; choose one with --dataset-config");
    }
  } else {
    for (const CardConfig* c : with_files) {
      if (c->is_default && !chosen) chosen = c;
    }
    for (const CardConfig* c : with_files) {
      if (c->name == "default" && !chosen) chosen = c;
    }
    if (!chosen && with_files.size() == 1) chosen = with_files[0];
    if (!chosen) {
      throw UserError(dataset_name + " has several configs and its card marks none as default (" + join(names) +
                      "): choose one with --dataset-config");
    }
  }
  CardSplits result;
  result.config = chosen->name;
  for (const auto& [split, patterns] : chosen->data_files) {
    std::vector<std::string>& files = result.splits[split];
    result.patterns[split] = join(patterns);
    for (const std::string& pattern : patterns) {
      std::regex regex;
      try {
        regex = pattern_regex(pattern);
      } catch (const std::regex_error&) {
        throw UserError(dataset_name + ": the dataset card's pattern '" + pattern + "' cannot be read; fix the card");
      }
      for (const std::string& path : relative_paths) {
        if (std::regex_match(path, regex) && std::find(files.begin(), files.end(), path) == files.end()) {
          files.push_back(path);
        }
      }
    }
    std::sort(files.begin(), files.end());
  }
  return result;
}

}  // namespace utt
