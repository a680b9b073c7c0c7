// A model held on the host for conversion: its architecture, its weights in utt's parameter
// layout (model/parameter_layout.h) and its tokenizer. `utt export` writes one; `--init-from`
// reads one, from a utt checkpoint or from a Hugging Face model folder.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "tokenizer/tokenizer.h"

namespace utt {

struct HostModel {
  ModelConfig config;
  std::vector<float> weights;  // ParameterLayout(config) order, fp32
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string source;          // where it came from, for messages
  std::string kind;            // "utt checkpoint", "Hugging Face LlamaForCausalLM folder", ...
};

// dir/model_config.json of a utt checkpoint.
ModelConfig read_utt_model_config(const std::filesystem::path& dir);

// A utt checkpoint directory (model_config.json, model.safetensors, tokenizer.json). `flag`
// names the option the path came from, for messages ("--checkpoint").
HostModel load_utt_checkpoint(const std::filesystem::path& dir, const std::string& flag);

// A utt checkpoint or a Hugging Face folder (config.json, model.safetensors or a sharded index,
// tokenizer.json), told apart by their files. Throws UserError naming what is missing or wrong.
HostModel load_model_dir(const std::filesystem::path& dir, const std::string& flag);

// UserError unless the tokenizer has exactly the model's vocabulary size.
void check_tokenizer_matches(const HostModel& model);

}  // namespace utt
