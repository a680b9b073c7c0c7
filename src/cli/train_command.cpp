#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/run_plan.h"
#include "cli/train_flags.h"
#include "export/init_source.h"
#include "train/training_run.h"
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
  if (!plan.unsupported.empty()) {
    std::string message = "not supported yet: ";
    for (size_t i = 0; i < plan.unsupported.size(); ++i) {
      const UnsupportedRequest& request = plan.unsupported[i];
      message += (i ? "; " : "") + request.what + " [" + request.flag + "]";
    }
    message += ". Remove the flag to train without it (--dry-run shows the whole plan)";
    throw UserError(message);
  }
  TrainingRunInputs inputs;
  inputs.config = config;
  // The tokenizer comes with the model it starts from.
  if (config.init_from) inputs.config.tokenizer_path = init_tokenizer_path(*config.init_from).string();
  inputs.model = plan.model.config;
  inputs.resume_command = resume_command(args);
  TrainConfig resolved = config;  // the summary shows the dimensions the run really used
  resolved.model = plan.model.config;
  inputs.configuration = flags_to_json(resolved);
  inputs.backend = plan.device.kind;
  inputs.device_banner = "Backend: " + plan.device.backend + "\nDevices: " + plan.device.devices +
                         "\n" + plan.device.note;
  return run_training(inputs);
}

}  // namespace utt
