#include "cli/run_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "config/batch_size.h"
#include "config/config_json.h"
#include "config/sizing.h"
#include "data/dataset_files.h"
#include "dist/communicator.h"
#include "dist/local_launch.h"
#include "export/export_formats.h"
#include "export/init_source.h"
#include "io/cloud_store.h"
#include "train/cloud_run.h"
#include "train/time_budget.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

int64_t thread_count(const TrainConfig& config) {
  if (config.threads > 0) return config.threads;
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
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

// What one rank of a run may plan its memory with: what is free on its GPU now (other processes'
// use deducted; the launcher of --num-devices, which trains nothing, takes the GPU's total rather
// than make a context on it), or its share of what this process may still take of the host's,
// which the ranks on this machine split.
FreeMemory planning_memory(const DevicePlan& device, const CudaStatus& cuda, const DataParallelPlan& parallel) {
  if (device.kind == BackendKind::kCuda && !cuda.gpus.empty()) {
    const size_t index = static_cast<size_t>(parallel.local_rank) < cuda.gpus.size()
                             ? static_cast<size_t>(parallel.local_rank) : 0;
    const GpuInfo& gpu = cuda.gpus[index];
    const int64_t free_bytes = parallel.launcher == "utt" ? -1 : gpu_free_memory(static_cast<int>(index));
    if (free_bytes > 0 && free_bytes < gpu.memory_bytes) return {static_cast<double>(free_bytes), gpu.name};
    return {static_cast<double>(gpu.memory_bytes), gpu.name};
  }
  const int64_t local_ranks = parallel.local_ranks;
  FreeMemory host = available_host_memory();
  if (local_ranks > 1) {
    host.bytes /= static_cast<double>(local_ranks);
    host.source = fmt::format("a rank's share (1/{}) of {}", local_ranks, host.source);
  }
  return host;
}

// The least of every rank's `mine`, the same on every rank.
FreeMemory least_memory_of_ranks(const FreeMemory& mine, Communicator& ranks) {
  const std::vector<double> all = values_of_every_rank(ranks, mine.bytes);
  const auto least = std::min_element(all.begin(), all.end());
  const auto holder = static_cast<int>(least - all.begin());
  if (*least >= mine.bytes) return mine;
  return {*least, fmt::format("rank {}'s memory (the least of {} ranks)", holder, all.size())};
}

// --batch-size auto: batch_size and gradient_accumulation_steps from the device's memory; a
// resumed run keeps its checkpoint's micro-batch (its batches must continue as they were). A new
// --time-budget run chooses a batch for each size it probes (time_budget.h), not here.
void resolve_auto_batch(RunPlan& plan) {
  TrainConfig& c = plan.config;
  if (c.time_budget && !plan.resume) {
    plan.batch_note = fmt::format("Batch: auto: chosen for each size the time budget measures, to {} in {}% of "
                                  "{}'s {} free",
                                  c.effective_batch_tokens
                                      ? with_thousands(*c.effective_batch_tokens) + " tokens per step"
                                      : std::string("the size's default tokens per step"),
                                  static_cast<int>(100 * kAutoBatchMemoryShare), plan.memory.source,
                                  human_bytes(plan.memory.bytes));
    plan.parallel.batch_per_device = plan.parallel.effective_batch = 0;  // not known yet
    return;
  }
  ModelConfig model = plan.model.config;
  if (c.auto_vocab_size && !plan.resume) model.vocab_size = c.max_vocab_size;  // the largest it may become
  const int64_t target = c.effective_batch_tokens.value_or(default_effective_batch_tokens(model));
  BatchChoice choice = choose_batch_size(model, target, plan.memory.bytes, c.use_mixed_precision,
                                         plan.parallel.ranks, plan.memory.source);
  if (plan.resume && plan.resume->state.batch_size_per_rank > 0) {
    const int64_t rows = choice.micro_batch * choice.accumulation;
    choice.micro_batch = plan.resume->state.batch_size_per_rank;
    choice.accumulation = std::max<int64_t>(1, (rows + choice.micro_batch - 1) / choice.micro_batch);
    choice.reason = fmt::format("Batch: auto: the checkpoint's {} rows x {} accumulation step{} (target {} tokens)",
                                choice.micro_batch, choice.accumulation, choice.accumulation == 1 ? "" : "s",
                                with_thousands(target));
  }
  c.batch_size = choice.micro_batch;
  c.gradient_accumulation_steps = choice.accumulation;
  plan.batch_note = choice.reason;
  plan.parallel.batch_per_device = c.batch_size;
  plan.parallel.effective_batch = c.batch_size * c.gradient_accumulation_steps * plan.parallel.ranks;
}

}  // namespace

DevicePlan plan_device(const TrainConfig& config, const CudaStatus& cuda) {
  DevicePlan cpu{BackendKind::kCpu, "CPU", "1x cpu (" + count_of(thread_count(config), "thread") + ")",
                 "\u26a0 Running on CPU - training will be slower"};
  if (config.device == "cpu") return cpu;
  if (cuda.gpus.empty()) {
    if (config.device == "cuda") throw UserError("--device cuda: " + cuda.problem);
    return cpu;
  }
  // --device cuda, or auto with a visible GPU: the CUDA backend on the first GPU (each rank of a
  // data-parallel run takes the GPU of its local rank; plan_run counts them).
  const GpuInfo& gpu = cuda.gpus.front();
  return DevicePlan{BackendKind::kCuda, "GPU",
                    "1x " + gpu.name + " (" + human_bytes(static_cast<double>(gpu.memory_bytes)) + ")",
                    "\u2713 GPU Optimizations: CUDA acceleration enabled"};
}

DataParallelPlan plan_data_parallel(const TrainConfig& config, const LaunchEnvironment& launch) {
  DataParallelPlan plan;
  if (launch.started_by_launcher()) {
    if (config.was_set("num-devices") && config.num_devices != launch.local_size) {
      throw UserError(fmt::format("--num-devices {}: {} started {} rank{} on this machine, and the launcher "
                                  "decides the ranks: drop --num-devices, or start as many ranks",
                                  config.num_devices, launch.launcher, launch.local_size,
                                  launch.local_size == 1 ? "" : "s"));
    }
    plan.ranks = launch.world_size;
    plan.local_ranks = launch.local_size;
    plan.launcher = launch.launcher;
    plan.rank = launch.rank;
    plan.local_rank = launch.local_rank;
  } else {
    plan.ranks = plan.local_ranks = config.num_devices;
    plan.launcher = config.num_devices > 1 ? "utt" : "";
  }
  if (plan.ranks > 1 && !mpi_built()) make_mpi_communicator();  // throws, saying how to get MPI
  if (plan.launcher == "utt" && !find_mpirun()) {
    throw UserError(fmt::format("--num-devices {} starts its workers with mpirun, which is not installed: install "
                                "openmpi-bin (scripts/setup does), or train with --num-devices 1",
                                config.num_devices));
  }
  plan.threads_per_rank = config.threads > 0 ? config.threads
                                              : std::max<int64_t>(1, thread_count(config) / plan.local_ranks);
  plan.batch_per_device = config.batch_size;
  plan.effective_batch = config.batch_size * config.gradient_accumulation_steps * plan.ranks;
  return plan;
}

std::string data_parallel_banner(const DataParallelPlan& parallel, const std::string& backend) {
  if (parallel.ranks == 1) return "";
  const std::string devices = backend == "GPU" ? "GPUs" : "CPU processes";
  if (parallel.batch_per_device == 0) {
    return fmt::format("\u2713 Multi-device training enabled!\n\u2713 Data parallelism across {} {}\n"
                       "Effective batch size: chosen with the model by --time-budget (--batch-size auto)",
                       parallel.ranks, devices);
  }
  const int64_t accumulation = parallel.effective_batch / (parallel.batch_per_device * parallel.ranks);
  return fmt::format("\u2713 Multi-device training enabled!\n\u2713 Data parallelism across {} {}\n"
                     "Effective batch size: {} ({} per device{})",
                     parallel.ranks, devices, parallel.effective_batch, parallel.batch_per_device,
                     accumulation > 1 ? fmt::format(", {} accumulation steps", accumulation) : "");
}

RunPlan plan_run(const TrainConfig& config, Communicator* ranks) {
  validate(config);
  RunPlan plan;
  plan.config = config;
  plan.model = config.init_from ? resolve_init_model(config) : resolve_model(config);
  plan.output = inspect_output_dir(config.output_dir);
  if (!config.dry_run) refuse_if_busy(plan.output);  // a dry run says it instead
  if (config.resume_from && parse_cloud_url(*config.resume_from)) {
    plan.cloud_resume = *config.resume_from;  // the run downloads it, then checks it as a local one
  } else {
    plan.resume = find_resume_point(config, plan.output);
    check_output_dir(config, plan.output, plan.resume ? &*plan.resume : nullptr);
  }
  if (config.cloud_provider) {
    // Credentials are looked up now (a real run without them is refused here; a dry run names
    // what is missing); the store is first contacted when the run starts.
    const std::string prefix = normalize_cloud_prefix(config.cloud_prefix);
    const std::string path = prefix.empty() ? "" : "/" + prefix;
    try {
      plan.cloud_target = open_cloud_store(cloud_settings(config))->describe() + path;
    } catch (const UserError& error) {
      if (!config.dry_run) throw;
      const std::string& provider = *config.cloud_provider;
      const std::string bucket = config.cloud_bucket.value_or("");
      plan.cloud_target = (provider == "s3"    ? "s3://" + bucket
                           : provider == "gcs" ? "gs://" + bucket
                                               : "az://" + config.azure_account_name.value_or("ACCOUNT") + "/" + bucket) +
                          path;
      plan.cloud_problem = error.what();
    }
  }
  if (plan.resume) {
    // A resumed run keeps its checkpoint's tokenizer, so its vocabulary is known now.
    ModelConfig& model = plan.model.config;
    model.vocab_size = plan.resume->model.vocab_size;
    // A --time-budget run chose its model when it started: the checkpoint has it.
    if (config.time_budget && !budget_model_fixed(config)) model = plan.resume->model;
    if (config.target_params) {
      ModelConfig base = model;
      if (!config.was_set("num-kv-heads")) base.num_kv_heads = 0;
      model = size_for_target_params(*config.target_params, config.prefer_depth, base);
    }
    const std::string differences = model_config_differences(plan.resume->model, model);
    if (!differences.empty()) {
      throw UserError("cannot resume from " + plan.resume->dir.string() + ": its model differs from this run's (" +
                      differences + "); use the flags the checkpoint was trained with");
    }
  }
  validate_model(plan.model.config);
  if (config.use_lora) lora_settings(config, plan.model.config);  // targets and PEFT layout, checked now
  if (config.export_formats) check_exportable(plan.model.config, parse_export_formats(*config.export_formats));
  plan.dataset = describe_dataset(config);
  const CudaStatus cuda = query_cuda();
  plan.device = plan_device(config, cuda);
  plan.parallel = plan_data_parallel(config, detect_launch_environment());
  if (plan.parallel.ranks > 1 && plan.device.backend == "CPU") {
    plan.device.devices = fmt::format("{}x cpu ({} each)", plan.parallel.ranks,
                                      count_of(plan.parallel.threads_per_rank, "thread"));
  }
  if (plan.device.backend == "GPU") {
    if (plan.parallel.local_ranks > static_cast<int64_t>(cuda.gpus.size())) {
      throw UserError(fmt::format("{} ranks on this machine need a GPU each, and {} {} visible: train with "
                                  "--num-devices {} (or start that many ranks per machine)",
                                  plan.parallel.local_ranks, cuda.gpus.size(),
                                  cuda.gpus.size() == 1 ? "is" : "are", cuda.gpus.size()));
    }
    if (plan.parallel.ranks > 1) {
      plan.device.devices = fmt::format("{}x {}", plan.parallel.ranks, cuda.gpus.front().name);
    }
  }
  if (config.batch_size_auto || config.time_budget) {  // the only users: no GPU context otherwise
    plan.memory = planning_memory(plan.device, cuda, plan.parallel);
    if (ranks && ranks->world_size() > 1) plan.memory = least_memory_of_ranks(plan.memory, *ranks);
  }
  if (config.batch_size_auto) resolve_auto_batch(plan);
  return plan;
}

}  // namespace utt
