// LoRA adapters in PEFT's layout, the one `PeftModel.from_pretrained` loads:
// adapter_config.json and adapter_model.safetensors with names such as
// base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight ([rank, in]) and
// ...lora_B.weight ([out, rank]), scale lora_alpha / r. Beside them utt writes lora.json: the
// exact settings and the base model (path and fingerprint) a resumed run or `utt export` needs.
//
// GPT-2's q, k and v are one Conv1D (c_attn): their adapters are written as one adapter of rank
// R = rank x adapters on c_attn (A stacked, B block-diagonal, rank_pattern and alpha_pattern
// keep the scale alpha / rank), which computes exactly the same update.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "io/staged_dir.h"
#include "model/lora_layout.h"

namespace utt {

struct LoraBase {
  std::string path;         // --init-from, as given
  std::string fingerprint;  // of the base weights (base_fingerprint)
};

// FNV-1a over the base weights' bytes, 16 hex digits.
std::string base_fingerprint(const std::vector<float>& weights);

// Writes adapter_config.json, adapter_model.safetensors and lora.json. UserError for an
// architecture PEFT's layout cannot name (neither Llama- nor GPT-2-style).
void write_peft_adapters(StagedDirectory& staged, const ModelConfig& model, const LoraLayout& layout,
                         const std::vector<float>& adapters, const LoraBase& base);

// UserError naming the reason when `model` has no PEFT layout (checked before training starts).
void check_peft_exportable(const ModelConfig& model);

// What lora.json in a checkpoint says.
struct StoredLora {
  LoraSettings settings;
  LoraBase base;
};
StoredLora read_lora_json(const std::filesystem::path& dir);

// The adapters of a checkpoint (adapter_model.safetensors) in `layout` order.
std::vector<float> read_peft_adapters(const std::filesystem::path& dir, const ModelConfig& model,
                                      const LoraLayout& layout);

// weights (ParameterLayout order) += scale * B A for every adapter: the merged model.
void merge_lora(const ModelConfig& model, const LoraLayout& layout, const std::vector<float>& adapters,
                std::vector<float>& weights);

}  // namespace utt
