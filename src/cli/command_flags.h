// Flags of the smaller commands (utt generate, utt eval, utt tokenizer ...): `--name value`,
// `--name=value`, bare `--name` for switches, several values for the names that take a list.
// Unknown names get a "did you mean"; every problem is one UserError naming the command.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace utt {

struct CommandFlagSpec {
  std::vector<std::string> takes_value;   // --name VALUE
  std::vector<std::string> takes_list;    // --name VALUE... (until the next flag)
  std::vector<std::string> switches;      // --name (no value)
};

class CommandFlags {
 public:
  // `command` names the command in messages ("utt generate", "utt tokenizer train").
  CommandFlags(const std::vector<std::string>& args, const std::string& command,
               const CommandFlagSpec& spec);

  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.contains(name); }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& list(const std::string& name) const;
  // Throws UserError ("utt generate needs --checkpoint ...") when absent.
  std::string required(const std::string& name) const;

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  bool help_ = false;
};

}  // namespace utt
