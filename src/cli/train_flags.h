// The flags of `utt train`: one table (train_flags.cpp) gives each flag's name, section,
// help text and the TrainConfig field it sets. Parsing, --help, the config file and the dry
// run's configuration listing all read the same table, so they cannot drift apart.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/train_config.h"

namespace utt {

enum class FlagKind { kString, kInt, kCount, kFloat, kBool, kChoice };

struct FlagSpec {
  std::string name;     // without dashes; for booleans the positive form ("rmsnorm")
  std::string section;  // the guide's table it belongs to
  FlagKind kind = FlagKind::kString;
  std::string value_name;  // shown in --help: "N", "PATH", "RATE"
  std::string help;
  std::vector<std::string> choices;  // kChoice only
  bool spelled_negative = false;     // the guide spells it --no-NAME (--no-rmsnorm)
  bool secret = false;               // never printed back (SAS tokens)
  std::function<void(TrainConfig&, const std::string&)> set;
  std::function<std::string(const TrainConfig&)> get;  // "None" when unset

  // How the guide writes the flag: --batch-size, --no-rmsnorm, --use-streaming.
  std::string spelling() const { return (spelled_negative ? "--no-" : "--") + name; }
  // The default as --help shows it, in the guide's terms (for --no-rmsnorm: False).
  std::string shown_value(const TrainConfig& config) const;
};

const std::vector<FlagSpec>& train_flags();

// Parses `utt train` arguments (without the subcommand): reads --config FILE first, then
// applies the command line over it. Records every flag given in explicitly_set. Throws
// UserError for unknown flags (with a suggestion), missing or malformed values.
TrainConfig parse_train_args(const std::vector<std::string>& args);

std::string train_help();

// Every flag's value, typed (numbers, booleans, strings, null for unset), keyed by the flag's
// name with underscores; secrets are left out. For training_summary.json.
nlohmann::json flags_to_json(const TrainConfig& config);

// `utt train` with these arguments, shell-quoted, minus any --resume-from: the command that
// continues the run when `--resume-from DIR` is appended.
std::string resume_command(const std::vector<std::string>& args);

}  // namespace utt
