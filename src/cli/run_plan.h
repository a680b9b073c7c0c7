// What `utt train` will do, resolved from its configuration before anything runs: the
// model, the device, the dataset and the features this build cannot provide yet. The dry run
// prints it; a real run acts on it.
#pragma once

#include <string>
#include <vector>

#include "backend/device.h"
#include "config/train_config.h"

namespace utt {

struct DevicePlan {
  std::string backend;  // "CPU" or "GPU"
  std::string devices;  // "1x cpu (2 threads)", "2x NVIDIA H100"
  std::string note;     // the guide's banner line under it
};

struct UnsupportedRequest {
  std::string flag;  // "--use-lora"
  std::string what;  // "LoRA fine-tuning"
};

struct RunPlan {
  TrainConfig config;
  ResolvedModel model;
  DevicePlan device;
  std::string dataset;  // one line describing where the text comes from
  std::vector<UnsupportedRequest> unsupported;
};

// Validates and resolves; throws UserError for any impossible request.
RunPlan plan_run(const TrainConfig& config);

void print_dry_run(const RunPlan& plan);

}  // namespace utt
