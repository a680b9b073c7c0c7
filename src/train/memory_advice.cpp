#include "train/memory_advice.h"

#include <fmt/format.h>

#include <vector>

#include "config/presets.h"

namespace utt {
namespace {

// The largest preset narrower than the model, or "" when none is.
std::string smaller_preset(const ModelConfig& model) {
  std::string name;
  int64_t width = 0;
  for (const ModelPreset& preset : model_presets()) {
    if (preset.d_model < model.d_model && preset.d_model > width) {
      name = preset.name;
      width = preset.d_model;
    }
  }
  return name;
}

std::string halved_batch(const TrainConfig& config) {
  const int64_t batch = config.batch_size / 2;
  // The accumulation that keeps batch x accumulation the same, when the batch halves exactly;
  // otherwise the nearest that does not shrink it.
  const int64_t effective = config.batch_size * config.gradient_accumulation_steps;
  const int64_t accumulation = (effective + batch - 1) / batch;
  return fmt::format("--batch-size {} --gradient-accumulation-steps {} ({} sequences per step{})", batch,
                     accumulation, batch * accumulation,
                     batch * accumulation == effective ? ", as now" : fmt::format(" instead of {}", effective));
}

}  // namespace

std::string out_of_memory_advice(const TrainConfig& config, const ModelConfig& model) {
  std::vector<std::string> options;
  if (config.batch_size > 1) options.push_back(halved_batch(config));
  if (!config.use_mixed_precision) options.push_back("--use-mixed-precision (bf16 matmul operands)");
  if (!config.activation_checkpointing) {
    options.push_back("--activation-checkpointing (each block's activations recomputed in the backward pass)");
  }
  if (model.seq_len > 64) options.push_back(fmt::format("a smaller --seq-len (e.g. {})", model.seq_len / 2));
  if (const std::string preset = smaller_preset(model); !preset.empty()) {
    options.push_back(fmt::format("a smaller model (--model-preset {})", preset));
  }
  if (options.empty()) return "a smaller model (--d-model, --num-layers) or a GPU with more memory";
  std::string text = "to fit, train with ";
  for (size_t i = 0; i < options.size(); ++i) text += (i == 0 ? "" : ", or ") + options[i];
  return text;
}

}  // namespace utt
