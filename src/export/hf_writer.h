// Writing a Hugging Face model folder that transformers' from_pretrained (and llama.cpp's
// converter) load with nothing to fix by hand: config.json, model.safetensors,
// generation_config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json.
#pragma once

#include <filesystem>

#include "export/export_dtype.h"
#include "export/host_model.h"

namespace utt {

// Checks the architecture first (UserError before anything is written), then writes the folder
// through a staging directory renamed into place.
void write_hf_folder(const HostModel& model, const std::filesystem::path& output, ExportDtype dtype);

}  // namespace utt
