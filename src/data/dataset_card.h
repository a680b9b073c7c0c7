// A dataset card: the YAML front matter of a Hub dataset repository's README.md, which declares
// the dataset's configs and their files (huggingface.co/docs/hub/datasets-manual-configuration):
//
//   ---
//   configs:
//   - config_name: main
//     default: true
//     data_files:
//     - split: train
//       path: "data/train-*.parquet"
//     - split: test_gen
//       path: ["extra/a.jsonl", "extra/b.jsonl"]
//   - config_name: other
//     data_files: "other/*.jsonl"        # a pattern or a list of them: the train split
//   dataset_info:                        # older cards: the configs and their split names
//   - config_name: main
//     splits: [{name: train, num_examples: 10}, ...]
//   ---
//
// data_files may also map split names to patterns ({train: "a/*", test: ["b", "c"]}). Patterns
// are relative to the repository root, as the Hub's glob patterns are: `*` and `?` stay within
// one folder, `**` spans folders, `[...]` is a character class.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace utt {

struct CardConfig {
  std::string name;
  bool is_default = false;
  // split name -> patterns, in the card's order of splits.
  std::vector<std::pair<std::string, std::vector<std::string>>> data_files;
};

struct DatasetCard {
  std::vector<CardConfig> configs;       // from `configs:`
  std::vector<std::string> info_configs;  // config names `dataset_info:` declares
};

// The card in a README's front matter; nullopt when the README has none. UserError (naming
// `source`) when the front matter is not valid YAML or its configs are malformed.
std::optional<DatasetCard> parse_dataset_card(const std::string& readme, const std::string& source);

// True when `pattern` matches `relative_path` by the rules above.
bool matches_data_files_pattern(const std::string& pattern, const std::string& relative_path);

struct CardSplits {
  std::string config;  // the config chosen
  std::map<std::string, std::vector<std::string>> splits;  // split -> matching relative paths (maybe none)
  std::map<std::string, std::string> patterns;              // split -> its patterns, for messages
};

// The splits of the card's chosen config among `relative_paths`: --dataset-config `config`,
// else the config marked default, else the one named "default", else the only one. Returns
// nullopt when the card declares no configs with data_files (the folder naming rules apply).
// UserError for an unknown config (listing the card's) or several configs without a default.
std::optional<CardSplits> card_splits(
    const DatasetCard& card, const std::optional<std::string>& config,
    const std::vector<std::string>& relative_paths, const std::string& dataset_name);

}  // namespace utt
