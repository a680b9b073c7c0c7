#include "config/presets.h"
#include "config/sizing.h"
#include "config/train_config.h"
#include "util/text.h"

namespace utt {
namespace {

// The dimension flags a preset or a parameter budget decides.
constexpr const char* kDimensionFlags[] = {"d-model", "num-layers", "num-heads", "d-ff"};

}  // namespace

ModelConfig architecture_of(const TrainConfig& config) {
  ModelConfig model = config.model;
  if (model.swiglu && !config.was_set("activation")) model.activation = Activation::kSilu;
  return model;
}

ResolvedModel resolve_model(const TrainConfig& config) {
  ResolvedModel resolved{architecture_of(config), "explicit dimensions"};
  ModelConfig& model = resolved.config;
  if (!config.was_set("num-kv-heads")) model.num_kv_heads = model.num_heads;
  // With --auto-vocab-size the vocabulary is chosen later, within [min, max]: a budget is
  // planned at the smallest and re-solved for the one chosen.
  if (config.auto_vocab_size && config.target_params) model.vocab_size = config.min_vocab_size;

  if (config.model_preset) {
    const ModelPreset& preset = find_preset(*config.model_preset);
    resolved.source = "preset " + preset.name;
    // Explicit dimension flags override the preset's, so `--model-preset small --d-ff 1536`
    // means "small, but with that d_ff".
    if (!config.was_set("d-model")) model.d_model = preset.d_model;
    if (!config.was_set("num-layers")) model.num_layers = preset.num_layers;
    if (!config.was_set("num-heads")) model.num_heads = preset.num_heads;
    if (!config.was_set("d-ff")) model.d_ff = preset.d_ff;
    if (!config.was_set("num-kv-heads")) model.num_kv_heads = model.num_heads;
    for (const char* flag : kDimensionFlags) {
      if (config.was_set(flag)) resolved.source += ", --" + std::string(flag) + " overridden";
    }
  } else if (config.target_params) {
    ModelConfig base = model;
    if (!config.was_set("num-kv-heads")) base.num_kv_heads = 0;  // follow the chosen heads
    model = size_for_target_params(*config.target_params, config.prefer_depth, base,
                                   config.auto_vocab_size ? "--min-vocab-size" : "--vocab-size");
    resolved.source = "--target-params " + with_thousands(*config.target_params) +
                      (config.prefer_depth ? " with --prefer-depth" : "");
  }
  return resolved;
}

}  // namespace utt
