// `utt train --export hf,gguf`: the final checkpoint exported when the run ends, into
// OUTPUT_DIR/export_hf/ (Hugging Face folder) and OUTPUT_DIR/model.gguf (llama.cpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace utt {

// "hf,gguf" -> {"hf", "gguf"}; UserError for anything else or an empty list.
std::vector<std::string> parse_export_formats(const std::string& list);

// UserError now, before training, when `model` cannot be exported in one of `formats`.
void check_exportable(const ModelConfig& model, const std::vector<std::string>& formats);

// Exports `checkpoint` (a utt checkpoint, LoRA adapters merged) in f32 and prints where to.
void export_trained_model(const std::filesystem::path& checkpoint, const std::filesystem::path& output_dir,
                          const std::vector<std::string>& formats);

}  // namespace utt
