// config.json of Hugging Face's LlamaForCausalLM and GPT2LMHeadModel, written from a utt
// architecture and read back into one. Every key is written (the defaults are Llama-7B's and
// GPT-2-small's, not ours), with ints as ints and floats as floats (transformers v5 checks).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/model_config.h"
#include "export/hf_layout.h"

namespace utt {

// `bos_id` and `eos_id` as Tokenizer::bos_id() and eos_id() give them.
nlohmann::ordered_json hf_config_json(const ModelConfig& config, HfArchitecture architecture,
                                      int64_t bos_id, int64_t eos_id, const std::string& torch_dtype);

// The architecture a config.json describes, or a UserError naming the unsupported field or
// architecture. `source` names the file in messages.
ModelConfig model_config_from_hf(const nlohmann::json& json, const std::string& source,
                                 HfArchitecture* architecture);

}  // namespace utt
