// `utt train --init-from DIR`: start a run (training or fine-tuning) from the weights,
// architecture and tokenizer of a utt checkpoint or a Hugging Face model folder (Llama, GPT-2).
// The architecture comes from DIR: an architecture flag that says otherwise is refused, naming
// both values; flags that choose a model or a tokenizer (--model-preset, --target-params,
// --tokenizer-path, ...) are refused with it. Dropout, the attention kernel and (for RoPE models)
// a shorter --seq-len remain the run's choice: they do not change the weights.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/train_config.h"
#include "model/lora_adapters.h"
#include "model/transformer.h"

namespace utt {

// The architecture of DIR with the run's own choices applied; UserError for a contradiction.
ResolvedModel resolve_init_model(const TrainConfig& config);

// --lora-* for this model (UserError for a target it lacks, or an architecture PEFT cannot name).
LoraSettings lora_settings(const TrainConfig& config, const ModelConfig& model);

// --use-lora: the base weights from --init-from into `model` (frozen), adapters initialized from
// --seed and attached. Returns the adapters (null without --use-lora); they must outlive `model`'s use.
std::unique_ptr<LoraAdapters> start_lora(const TrainConfig& config, Transformer& model, Backend& backend);

// DIR's tokenizer.json.
std::filesystem::path init_tokenizer_path(const std::string& dir);

// DIR's weights in utt's layout for `model` (the resolved architecture), fp32.
std::vector<float> load_init_weights(const std::string& dir, const ModelConfig& model);

}  // namespace utt
