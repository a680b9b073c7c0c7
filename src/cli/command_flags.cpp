#include "cli/command_flags.h"

#include <algorithm>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

CommandFlags::CommandFlags(const std::vector<std::string>& args, const std::string& command,
                           const CommandFlagSpec& spec)
    : command_(command) {
  std::vector<std::string> known;
  for (const auto* names : {&spec.takes_value, &spec.takes_list, &spec.switches}) {
    for (const std::string& name : *names) known.push_back(name);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (!starts_with(arg, "--") || arg.size() == 2) {
      throw UserError("unexpected argument '" + arg + "' for " + command + " (see " + command +
                      " --help)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (!contains(known, name)) {
      std::string message = command + " has no flag --" + name;
      if (auto guess = closest_match(name, known)) {
        message += ": did you mean --" + *guess + "?";
      } else {
        message += " (see " + command + " --help)";
      }
      throw UserError(message);
    }
    std::vector<std::string>& values = values_[name];
    if (contains(spec.switches, name)) {
      if (inline_value) throw UserError("--" + name + " takes no value (" + command + ")");
      values.push_back("true");
      continue;
    }
    if (inline_value) {
      values.push_back(*inline_value);
      continue;
    }
    const bool list = contains(spec.takes_list, name);
    while (i + 1 < args.size() && !starts_with(args[i + 1], "--") && (list || values.empty())) {
      values.push_back(args[++i]);
    }
    if (values.empty()) throw UserError("--" + name + " needs a value (" + command + ")");
  }
}

std::string CommandFlags::get(const std::string& name, const std::string& fallback) const {
  auto found = values_.find(name);
  return found == values_.end() ? fallback : found->second.back();
}

const std::vector<std::string>& CommandFlags::list(const std::string& name) const {
  static const std::vector<std::string> empty;
  auto found = values_.find(name);
  return found == values_.end() ? empty : found->second;
}

std::string CommandFlags::required(const std::string& name) const {
  if (!has(name)) {
    throw UserError(command_ + " needs --" + name + " (see " + command_ + " --help)");
  }
  return get(name);
}

}  // namespace utt
