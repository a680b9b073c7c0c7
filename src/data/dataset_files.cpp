#include "data/dataset_files.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "data/dataset_card.h"
#include "data/hub_dataset.h"
#include "data/row_reader.h"
#include "util/error.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace utt {
namespace {

// The Hub's split keywords (huggingface/datasets data_files.py), mapped to the canonical name.
const std::map<std::string, std::string>& split_synonyms() {
  static const std::map<std::string, std::string> synonyms = {
      {"train", "train"},     {"training", "train"},  {"validation", "validation"},
      {"valid", "validation"}, {"val", "validation"}, {"dev", "validation"},
      {"test", "test"},       {"testing", "test"},    {"eval", "test"},
      {"evaluation", "test"}};
  return synonyms;
}

std::string canonical_split(const std::string& name) {
  auto it = split_synonyms().find(to_lower(name));
  return it == split_synonyms().end() ? name : it->second;
}

bool has_glob(const std::string& text) { return text.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> glob_files(const std::string& pattern) {
  std::vector<std::string> files;
  glob_t result{};
  if (::glob(pattern.c_str(), 0, nullptr, &result) == 0) {
    for (size_t i = 0; i < result.gl_pathc; ++i) {
      if (fs::is_regular_file(result.gl_pathv[i])) files.emplace_back(result.gl_pathv[i]);
    }
  }
  globfree(&result);
  std::sort(files.begin(), files.end());
  return files;
}

bool is_hidden(const fs::path& relative) {
  for (const fs::path& part : relative) {
    const std::string name = part.string();
    if (!name.empty() && name[0] == '.' && name != "." && name != "..") return true;
  }
  return false;
}

// Every readable data file under `root` (hidden folders such as .git and .cache skipped).
std::vector<std::string> data_files_under(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    if (is_hidden(entry.path().lexically_relative(root))) continue;
    if (is_supported_data_file(entry.path().string())) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The words of a path a split name can be: the pieces of every folder and file name split
// at '-', '_', '.' and ' ' ("data/train-00000-of-00002.parquet" -> data, train, 00000, ...;
// "partial-train/0000.parquet" -> partial, train, 0000, parquet).
std::vector<std::string> split_words(const fs::path& relative) {
  std::vector<std::string> words;
  for (const fs::path& part : relative) {
    std::string word;
    for (char c : part.string()) {
      if (c == '-' || c == '_' || c == '.' || c == ' ') {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
    if (!word.empty()) words.push_back(word);
  }
  return words;
}

// The canonical split a file belongs to, or "" when its path names none.
std::string split_of(const fs::path& relative) {
  for (const std::string& word : split_words(relative)) {
    auto it = split_synonyms().find(to_lower(word));
    if (it != split_synonyms().end()) return it->second;
  }
  return "";
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

struct LocalLayout {
  fs::path root;
  std::vector<std::string> files;
};

LocalLayout layout_of(const std::string& dataset_id, const std::optional<std::string>& config) {
  if (has_glob(dataset_id)) {
    std::vector<std::string> files = glob_files(dataset_id);
    if (files.empty()) throw UserError("no file matches " + dataset_id + ": check the pattern");
    return {fs::path(), files};
  }
  if (!fs::exists(dataset_id)) {
    throw UserError("dataset " + dataset_id + " not found: no such file or directory" +
                    (dataset_id.find('/') == std::string::npos
                         ? std::string(" (a Hugging Face dataset needs its full id, org/name)")
                         : std::string()));
  }
  if (fs::is_regular_file(dataset_id)) return {fs::path(), {dataset_id}};
  fs::path root = dataset_id;
  if (config) {
    if (!fs::is_directory(root / *config)) {
      std::vector<std::string> configs;
      for (const auto& entry : fs::directory_iterator(root)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_directory() && name[0] != '.' && !data_files_under(entry.path()).empty()) {
          configs.push_back(name);
        }
      }
      std::sort(configs.begin(), configs.end());
      throw UserError("config '" + *config + "' not found in " + dataset_id +
                      ": the configs (folders) are " + (configs.empty() ? "(none)" : join(configs)) +
                      "; drop --dataset-config or choose one");
    }
    root /= *config;
  }
  std::vector<std::string> files = data_files_under(root);
  if (files.empty()) {
    throw UserError("no data files in " + root.string() +
                    ": utt reads .txt, .jsonl, .json and .parquet files (text and JSON may be "
                    ".gz or .zst compressed)");
  }
  return {root, files};
}

// The dataset card of a local folder (its README.md's front matter), if any.
std::optional<DatasetCard> local_card(const fs::path& root) {
  const fs::path readme = root / "README.md";
  if (!fs::is_regular_file(readme)) return std::nullopt;
  std::ifstream in(readme, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  return parse_dataset_card(text, readme.string());
}

// split name -> files of a folder with a dataset card that declares configs: the card's
// patterns, relative to the folder, pick the files. nullopt when there is no such card.
std::optional<std::map<std::string, std::vector<std::string>>> files_by_card(
    const std::string& dataset_id, const std::optional<std::string>& config) {
  if (has_glob(dataset_id) || !fs::is_directory(dataset_id)) return std::nullopt;
  const fs::path root = dataset_id;
  const std::optional<DatasetCard> card = local_card(root);
  if (!card) return std::nullopt;
  std::vector<std::string> relative;
  for (const std::string& file : data_files_under(root)) relative.push_back(fs::path(file).lexically_relative(root).string());
  const std::optional<CardSplits> chosen = card_splits(*card, config, relative, dataset_id);
  if (!chosen) {
    check_config_is_declared(*card, config, dataset_id);
    return std::nullopt;
  }
  std::map<std::string, std::vector<std::string>> splits;
  for (const auto& [split, paths] : chosen->splits) {
    if (paths.empty()) {
      throw UserError("split '" + split + "' of config '" + chosen->config + "' in " + dataset_id +
                      " matches no file (its dataset card says " + chosen->patterns.at(split) +
                      "): check the card or the files");
    }
    for (const std::string& path : paths) splits[split].push_back((root / path).string());
  }
  return splits;
}

// split name -> files, by the split names in their paths relative to the layout's root.
std::map<std::string, std::vector<std::string>> files_by_split(const LocalLayout& layout) {
  // A file or a glob given directly is the "train" split, as data_files= is on the Hub.
  if (layout.root.empty()) return {{"train", layout.files}};
  std::vector<std::string> relative;
  for (const std::string& file : layout.files) {
    relative.push_back(fs::path(file).lexically_relative(layout.root).string());
  }
  std::map<std::string, std::vector<std::string>> splits;
  for (auto& [split, paths] : assign_splits(relative)) {
    for (const std::string& path : paths) splits[split].push_back((layout.root / path).string());
  }
  return splits;
}

}  // namespace

std::string canonical_split_name(const std::string& name) { return canonical_split(name); }

std::optional<std::vector<std::string>> find_split(const std::map<std::string, std::vector<std::string>>& splits,
                                                   const std::string& split) {
  auto it = splits.find(split);
  if (it == splits.end()) it = splits.find(canonical_split(split));
  if (it == splits.end()) {
    // A card's own names ("valid", "dev") answer to their canonical name too.
    it = std::find_if(splits.begin(), splits.end(),
                      [&](const auto& entry) { return canonical_split(entry.first) == canonical_split(split); });
  }
  if (it == splits.end()) return std::nullopt;
  return it->second;
}

void check_config_is_declared(const DatasetCard& card, const std::optional<std::string>& config,
                              const std::string& dataset_name) {
  if (!config || card.info_configs.empty()) return;
  if (std::find(card.info_configs.begin(), card.info_configs.end(), *config) != card.info_configs.end()) return;
  throw UserError("config '" + *config + "' not found in " + dataset_name + ": its dataset card declares " +
                  join(card.info_configs) + "; choose one with --dataset-config");
}

std::map<std::string, std::vector<std::string>> assign_splits(
    const std::vector<std::string>& relative_paths) {
  // First the sharded names push_to_hub writes, data/{split}-NNNNN-of-NNNNN*.* (and without
  // data/ inside a config folder): any split name, taken literally (train_sft, test_gen, ...).
  static const std::regex sharded(R"(^(?:data/)?(\w+(?:\.\w+)*)-\d{5}-of-\d{5}[^/]*$)");
  std::map<std::string, std::vector<std::string>> splits;
  for (const std::string& path : relative_paths) {
    std::smatch match;
    if (std::regex_match(path, match, sharded)) splits[match[1].str()].push_back(path);
  }
  if (!splits.empty()) return splits;
  // Then split keywords; files whose path names no split all go to "train" when no file
  // names one (a plain folder of data), and are ignored otherwise.
  bool any_named = false;
  for (const std::string& path : relative_paths) {
    const std::string split = split_of(path);
    if (!split.empty()) any_named = true;
    splits[split].push_back(path);
  }
  if (!any_named) return {{"train", relative_paths}};
  splits.erase("");
  return splits;
}

std::string describe_splits(const std::map<std::string, std::vector<std::string>>& splits) {
  std::vector<std::string> names;
  for (const auto& [name, files] : splits) names.push_back(name);
  return join(names);
}

bool is_local_dataset(const std::string& dataset_id) {
  if (has_glob(dataset_id)) return !glob_files(dataset_id).empty();
  return fs::exists(dataset_id);
}

// split name -> files of a local dataset: by its card when it has one with configs, else by
// the folder naming rules.
std::map<std::string, std::vector<std::string>> local_split_files(const std::string& dataset_id,
                                                                  const std::optional<std::string>& config) {
  if (auto by_card = files_by_card(dataset_id, config)) return *by_card;
  return files_by_split(layout_of(dataset_id, config));
}

std::vector<std::string> local_splits(const std::string& dataset_id,
                                      const std::optional<std::string>& config) {
  std::vector<std::string> names;
  for (const auto& [name, files] : local_split_files(dataset_id, config)) names.push_back(name);
  return names;
}

std::vector<std::string> resolve_local_split(const std::string& dataset_id,
                                             const std::optional<std::string>& config,
                                             const std::string& split) {
  const auto splits = local_split_files(dataset_id, config);
  if (auto found = find_split(splits, split)) return *found;
  std::vector<std::string> names;
  for (const auto& [name, files] : splits) names.push_back(name);
  std::string message = "split '" + split + "' not found in " + dataset_id +
                        ": the available splits are " + join(names);
  if (auto guess = closest_match(split, names)) message += " (did you mean " + *guess + "?)";
  throw UserError(message);
}

}  // namespace utt

namespace utt {

std::vector<std::string> resolve_dataset_split(const std::string& dataset_id,
                                               const std::optional<std::string>& config,
                                               const std::string& split) {
  // Anything that exists here, or looks like a path, is local; "org/name" is a Hub id.
  if (is_local_dataset(dataset_id) || dataset_id[0] == '.' || dataset_id[0] == '/' ||
      dataset_id.find('/') == std::string::npos || has_glob(dataset_id)) {
    return resolve_local_split(dataset_id, config, split);
  }
  return fetch_hub_split(dataset_id, config, split, hub_settings_from_environment());
}

}  // namespace utt
