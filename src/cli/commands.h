// One function per subcommand. Each takes its arguments (without the subcommand name),
// prints to stdout/stderr and returns the exit code; user errors are thrown as UserError
// and reported by main.
#pragma once

#include <string>
#include <vector>

namespace utt {

int run_train(const std::vector<std::string>& args);
int run_presets(const std::vector<std::string>& args);
int run_data(const std::vector<std::string>& args);
int run_tokenizer(const std::vector<std::string>& args);
int run_generate(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);
int run_plot(const std::vector<std::string>& args);

}  // namespace utt
