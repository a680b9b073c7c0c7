// Reading a Hugging Face model folder (LlamaForCausalLM or GPT2LMHeadModel): config.json,
// model.safetensors or model.safetensors.index.json with its shards, tokenizer.json.
#pragma once

#include <filesystem>
#include <string>

#include "export/host_model.h"

namespace utt {

// Throws UserError, naming the file and the fix, for an unsupported architecture, a missing or
// incomplete set of weight files, a tensor that is missing, misshapen or not floating-point, and
// a tokenizer whose size differs from the model's vocabulary. `flag` names the option.
HostModel read_hf_folder(const std::filesystem::path& dir, const std::string& flag);

}  // namespace utt
