#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/run_plan.h"
#include "cli/train_flags.h"
#include "util/error.h"

namespace utt {

int run_train(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", train_help());
      return 0;
    }
  }
  const TrainConfig config = parse_train_args(args);
  const RunPlan plan = plan_run(config);
  if (config.dry_run) {
    print_dry_run(plan);
    return 0;
  }
  std::string message = "this build cannot train yet; it lacks: ";
  for (size_t i = 0; i < plan.unsupported.size(); ++i) {
    const UnsupportedRequest& request = plan.unsupported[i];
    message += (i ? "; " : "") + request.what + " [" + request.flag + "]";
  }
  message += ". Add --dry-run to check the configuration, model size and memory now";
  throw UserError(message);
}

}  // namespace utt
