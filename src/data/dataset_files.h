// Which local files hold a split. A --dataset-id that names a local file, directory or glob
// is read directly; a directory whose files are named by split (train.jsonl,
// validation.jsonl, data/train-00000-of-00002.parquet, test/part-0.txt, ...) serves --split
// and --val-split the way a Hub repository does, with the Hub's split synonyms (dev, valid
// and val mean validation; training means train; eval and testing mean test). A directory
// with no split names is all "train".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace utt {

// split name -> the paths (relative to a dataset's root) that belong to it, by the Hub's
// rules: sharded names (data/{split}-00000-of-00002.parquet, any split name); else a split
// keyword in a folder or file name; else everything is "train".
std::map<std::string, std::vector<std::string>> assign_splits(
    const std::vector<std::string>& relative_paths);

// "dev" -> "validation", "training" -> "train", ...; other names unchanged.
std::string canonical_split_name(const std::string& name);

// The files of `split` in `splits`: by its name, else by the canonical names of both.
std::optional<std::vector<std::string>> find_split(const std::map<std::string, std::vector<std::string>>& splits,
                                                   const std::string& split);

struct DatasetCard;
// UserError when `config` is given and the card's dataset_info declares configs but not it.
void check_config_is_declared(const DatasetCard& card, const std::optional<std::string>& config,
                              const std::string& dataset_name);

// "test, train, validation"
std::string describe_splits(const std::map<std::string, std::vector<std::string>>& splits);

// True when `dataset_id` names something on this machine (a path that exists, or a glob
// matching at least one file) rather than a Hub repository.
bool is_local_dataset(const std::string& dataset_id);

// The files of `split`. Throws UserError naming what exists when the split, the config or
// the path does not.
std::vector<std::string> resolve_local_split(const std::string& dataset_id,
                                             const std::optional<std::string>& config,
                                             const std::string& split);

// The files of `split` of any --dataset-id: local paths are resolved here; a Hub id
// (org/name) that is not a local path is fetched into the Hub cache (hub_dataset.h).
std::vector<std::string> resolve_dataset_split(const std::string& dataset_id,
                                               const std::optional<std::string>& config,
                                               const std::string& split);

// The split names a local dataset offers (canonical names, sorted).
std::vector<std::string> local_splits(const std::string& dataset_id,
                                      const std::optional<std::string>& config);

}  // namespace utt
