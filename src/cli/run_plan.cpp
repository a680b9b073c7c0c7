#include "cli/run_plan.h"

#include <filesystem>
#include <thread>

#include "data/dataset_files.h"
#include "export/export_formats.h"
#include "export/init_source.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

int64_t thread_count(const TrainConfig& config) {
  if (config.threads > 0) return config.threads;
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

DevicePlan plan_device(const TrainConfig& config) {
  DevicePlan cpu{"CPU", "1x cpu (" + std::to_string(thread_count(config)) + " threads)",
                 "\u26a0 Running on CPU - training will be slower"};
  if (config.device == "cpu") return cpu;
  const CudaStatus cuda = query_cuda();
  if (cuda.gpus.empty()) {
    if (config.device == "cuda") throw UserError("--device cuda: " + cuda.problem);
    return cpu;
  }
  if (config.device == "auto") {
    // Training kernels exist for the CPU only so far: a visible GPU is reported, not used.
    cpu.note += " (a GPU is visible, but this build trains on the CPU only)";
    return cpu;
  }
  DevicePlan gpu{"GPU", std::to_string(cuda.gpus.size()) + "x " + cuda.gpus.front().name,
                 "\u2713 GPU Optimizations: CUDA acceleration enabled"};
  if (cuda.gpus.size() > 1) gpu.note = "\u2713 Multi-device training enabled!";
  return gpu;
}

bool looks_like_local_path(const std::string& id) {
  if (starts_with(id, "/") || starts_with(id, "./") || starts_with(id, "../") ||
      starts_with(id, "~")) {
    return true;
  }
  for (const char* extension : {".txt", ".json", ".jsonl", ".parquet", ".gz", ".zst"}) {
    const std::string ext = extension;
    if (id.size() > ext.size() && id.compare(id.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

std::string describe_dataset(const TrainConfig& config) {
  namespace fs = std::filesystem;
  const std::string& id = config.dataset_id;
  std::error_code error;
  if (fs::is_regular_file(id, error)) {
    return "local file " + id + " (" + human_bytes(static_cast<double>(fs::file_size(id, error))) + ")";
  }
  if (fs::is_directory(id, error)) {
    int64_t files = 0;
    double bytes = 0;
    for (const auto& entry : fs::recursive_directory_iterator(id, error)) {
      if (entry.is_regular_file(error)) {
        ++files;
        bytes += static_cast<double>(entry.file_size(error));
      }
    }
    return "local directory " + id + " (" + std::to_string(files) + " files, " +
           human_bytes(bytes) + ")";
  }
  if (is_local_dataset(id)) {  // a glob matching files here
    return "local files matching " + id;
  }
  if (looks_like_local_path(id)) {
    throw UserError("--dataset-id " + id + " looks like a local path, but it does not exist: "
                    "check the path (or give a Hugging Face dataset id such as org/name)");
  }
  std::string text = "Hugging Face Hub dataset " + id;
  if (config.dataset_config) text += ", config " + *config.dataset_config;
  return text;
}

std::vector<UnsupportedRequest> unsupported_requests(const TrainConfig& c, const DevicePlan& device) {
  // Features whose flags are accepted and validated today but whose implementation arrives
  // with a later part of utt. A real run refuses them; the dry run lists them.
  std::vector<UnsupportedRequest> list;
  if (c.cloud_provider) list.push_back({"--cloud-provider", "cloud checkpoint storage"});
  if (device.backend == "GPU") list.push_back({"--device", "training on CUDA GPUs (use --device cpu)"});
  return list;
}

}  // namespace

RunPlan plan_run(const TrainConfig& config) {
  validate(config);
  RunPlan plan{config, config.init_from ? resolve_init_model(config) : resolve_model(config), {}, {}, {}};
  validate_model(plan.model.config);
  if (config.use_lora) lora_settings(config, plan.model.config);  // targets and PEFT layout, checked now
  if (config.export_formats) check_exportable(plan.model.config, parse_export_formats(*config.export_formats));
  plan.dataset = describe_dataset(config);
  plan.device = plan_device(config);
  plan.unsupported = unsupported_requests(config, plan.device);
  return plan;
}

}  // namespace utt
