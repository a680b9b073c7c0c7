// What `utt train` will do, resolved from its configuration before anything runs: the
// model, the device, the dataset and the features this build cannot provide yet. The dry run
// prints it; a real run acts on it.
#pragma once

#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "backend/device.h"
#include "config/train_config.h"
#include "train/output_dir.h"

namespace utt {

struct DevicePlan {
  BackendKind kind = BackendKind::kCpu;  // what make_backend builds for the run
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
  OutputDirState output;              // what --output-dir holds now
  std::optional<ResumePoint> resume;  // --resume-from, resolved and read
};

// Validates and resolves; throws UserError for any impossible request, including a
// --resume-from that names no usable checkpoint and an output directory the run may not use
// (train/output_dir.h). Writes nothing.
RunPlan plan_run(const TrainConfig& config);

// The device a run uses, given what CUDA offers (plan_run passes query_cuda()). Throws
// UserError for --device cuda without a visible GPU.
DevicePlan plan_device(const TrainConfig& config, const CudaStatus& cuda);

void print_dry_run(const RunPlan& plan);

}  // namespace utt
