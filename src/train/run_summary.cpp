#include "train/run_summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/config_json.h"
#include "io/staged_dir.h"
#include "obs/console_log.h"
#include "train/checkpoint_dirs.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

int64_t completed_epochs(int64_t steps, const EpochCount& count) {
  if (steps >= count.data_steps) return count.epochs;
  if (count.batches_per_epoch <= 0) return 0;
  return std::min(count.epochs, steps * count.accumulation / count.batches_per_epoch);
}

void write_summary(const RunOutputs& run, const TrainingResult& result) {
  const ParameterCount count = count_parameters(run.model);
  const double tokens_per_second =
      result.session_seconds > 0 ? static_cast<double>(result.session_tokens) / result.session_seconds : 0.0;
  nlohmann::json summary = {
      {"status", result.outcome == TrainingOutcome::kInterrupted ? "interrupted" : "completed"},
      {"final_loss", result.state.last_loss},
      {"best_val_loss", result.state.best_val_loss ? nlohmann::json(*result.state.best_val_loss) : nlohmann::json()},
      {"final_val_loss", result.final_val_loss ? nlohmann::json(*result.final_val_loss) : nlohmann::json()},
      {"steps", result.state.step},
      {"total_steps", result.state.total_steps},
      {"epochs_completed", completed_epochs(result.state.step, run.epochs)},
      {"tokens", result.state.tokens_seen},
      {"wall_time_seconds", result.state.elapsed_seconds},
      {"tokens_per_second", tokens_per_second},
      {"documents_per_batch", run.documents_per_batch},
      {"flops_per_token", run.flops_per_token},
      {"flops_per_second", tokens_per_second * run.flops_per_token},
      {"peak_flops_per_second", run.peak_flops_per_second > 0 ? nlohmann::json(run.peak_flops_per_second) : nlohmann::json()},
      {"peak_flops_source", run.peak_source},
      {"mfu", run.peak_flops_per_second > 0 ? nlohmann::json(tokens_per_second * run.flops_per_token / run.peak_flops_per_second)
                                            : nlohmann::json()},
      {"peak_memory_bytes", result.peak_memory_bytes},
      {"parameters", count.total},
      {"non_embedding_parameters", count.non_embedding},
      {"last_checkpoint", result.last_checkpoint.string()},
      {"run_id", result.state.run_id},
      {"model", model_config_to_json(run.model)},
      {"configuration", run.configuration},
  };
  if (!run.cloud.is_null()) summary["cloud"] = run.cloud;
  if (result.ranks > 1) {
    // What the ranks spent summing gradients (rank 0's clock), for scaling measurements.
    const int64_t session_steps = result.session_steps > 0 ? result.session_steps : 1;
    summary["data_parallel"] = {{"ranks", result.ranks},
                                {"all_reduce_seconds", result.all_reduce_seconds},
                                {"all_reduce_seconds_per_step", result.all_reduce_seconds / static_cast<double>(session_steps)}};
  }
  if (!run.time_budget.is_null()) summary["time_budget"] = run.time_budget;
  write_file_atomic(run.output_dir / "training_summary.json", summary.dump(2) + "\n");
}

void print_closing_lines(const RunOutputs& run, const TrainingResult& result) {
  const double tokens_per_second =
      result.session_seconds > 0 ? static_cast<double>(result.session_tokens) / result.session_seconds : 0.0;
  // Then the compute figures of training_summary.json: model TFLOP/s, MFU when the peak is
  // known, and the most memory the backend's buffers held.
  const double flops_per_second = tokens_per_second * run.flops_per_token;
  const std::string mfu = run.peak_flops_per_second > 0
                              ? fmt::format(", MFU {:.1f}%", 100 * flops_per_second / run.peak_flops_per_second)
                              : std::string();
  fmt::print("\nTraining {} after {} steps ({} tokens) in {}; {} tokens/s; {:.3f} TFLOP/s{}; peak memory {:.2f} GiB\n",
             result.outcome == TrainingOutcome::kInterrupted ? "stopped" : "finished",
             with_thousands(result.state.step), with_thousands(result.state.tokens_seen),
             format_duration(result.state.elapsed_seconds), with_thousands(static_cast<int64_t>(tokens_per_second)),
             flops_per_second / 1e12, mfu, static_cast<double>(result.peak_memory_bytes) / (1 << 30));
  if (result.outcome == TrainingOutcome::kDataExhausted) {
    fmt::print("The training data ended before step {}: the schedule was computed for more data\n",
               result.state.total_steps);
  }
  // What is there, in the guide's order.
  std::string listed;
  std::error_code error;
  for (const char* name : {"tokenizer.json", "model_config.json", "training_summary.json", "metrics.jsonl",
                           "training_curves.svg", "runs/", "final_checkpoint/", "best_checkpoint/"}) {
    if (fs::exists(run.output_dir / name, error)) listed += (listed.empty() ? "" : ", ") + std::string(name);
  }
  if (!list_step_checkpoints(run.output_dir).empty()) listed += ", checkpoint_step_N/";
  fmt::print("Outputs: {}/ ({})\n", run.output_dir.string(), listed);
  if (!run.cloud_location.empty()) {
    std::string uploaded;
    for (const std::string& name : run.cloud_checkpoints) uploaded += (uploaded.empty() ? "" : ", ") + name + "/";
    fmt::print("Cloud: {}/ ({})\n", run.cloud_location, uploaded.empty() ? "nothing uploaded" : uploaded);
  }
}

}  // namespace utt
