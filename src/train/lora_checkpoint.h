// The LoRA part of a checkpoint directory: the adapters in PEFT's layout (adapter_config.json,
// adapter_model.safetensors), lora.json (settings, base path and fingerprint) and the AdamW
// moments of the adapters. The base weights are not copied: the checkpoint refers to them.
#pragma once

#include <filesystem>

#include "io/staged_dir.h"
#include "model/transformer.h"
#include "train/adamw.h"

namespace utt {

void save_lora_state(StagedDirectory& staged, const Transformer& model, const AdamW& optimizer);

// Refuses (UserError) a checkpoint whose LoRA settings or base differ from this run's.
void load_lora_state(const std::filesystem::path& dir, Transformer& model, AdamW& optimizer, int64_t step);

}  // namespace utt
