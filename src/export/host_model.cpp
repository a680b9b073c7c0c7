#include "export/host_model.h"

#include <nlohmann/json.hpp>

#include "export/hf_reader.h"
#include "export/peft_adapters.h"
#include "io/safetensors.h"
#include "model/parameter_layout.h"
#include "model/weights_io.h"
#include "config/config_json.h"
#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

void check_tokenizer_matches(const HostModel& model) {
  if (model.tokenizer->vocab_size() != static_cast<uint32_t>(model.config.vocab_size)) {
    throw UserError(model.source + ": tokenizer.json has " + std::to_string(model.tokenizer->vocab_size()) +
                    " tokens but the model's vocabulary is " + std::to_string(model.config.vocab_size) +
                    ": the files come from different models");
  }
}

ModelConfig read_utt_model_config(const fs::path& dir) {
  const fs::path config_path = dir / "model_config.json";
  try {
    return model_config_from_json(nlohmann::json::parse(read_file(config_path, "model configuration")),
                                  config_path.string());
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError(config_path.string() + " is not valid JSON: " + error.what());
  }
}

namespace {

// A LoRA run's checkpoint: its adapters merged into the base model it names (lora.json).
HostModel load_lora_checkpoint(const fs::path& dir, const std::string& flag) {
  const StoredLora stored = read_lora_json(dir);
  HostModel model = load_model_dir(stored.base.path, "the LoRA base model of " + dir.string() + ",");
  if (base_fingerprint(model.weights) != stored.base.fingerprint) {
    throw UserError(flag + " " + dir.string() + " holds LoRA adapters for the base model in " + stored.base.path +
                    ", which has changed since (its weights differ): the adapters only fit the weights they were "
                    "trained on");
  }
  const ModelConfig config = read_utt_model_config(dir);
  const LoraLayout layout(config, stored.settings);
  merge_lora(config, layout, read_peft_adapters(dir, config, layout), model.weights);
  model.config = config;
  model.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::load((dir / "tokenizer.json").string()));
  check_tokenizer_matches(model);
  model.source = dir.string();
  model.kind = "utt LoRA checkpoint (merged into " + stored.base.path + ")";
  return model;
}

}  // namespace

HostModel load_utt_checkpoint(const fs::path& dir, const std::string& flag) {
  if (fs::exists(dir / "lora.json") && !fs::exists(dir / "model.safetensors")) return load_lora_checkpoint(dir, flag);
  for (const char* file : {"model_config.json", "tokenizer.json", "model.safetensors"}) {
    if (!fs::exists(dir / file)) {
      throw UserError(flag + " " + dir.string() + " has no " + file +
                      ": it is not a utt checkpoint directory (expected model.safetensors, model_config.json "
                      "and tokenizer.json)");
    }
  }
  HostModel model;
  model.source = dir.string();
  model.kind = "utt checkpoint";
  model.config = read_utt_model_config(dir);
  model.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::load((dir / "tokenizer.json").string()));
  check_tokenizer_matches(model);
  const std::string weights = (dir / "model.safetensors").string();
  model.weights = read_layout_buffer(ParameterLayout(model.config), safetensors::File::read(weights),
                                     "model weights in " + weights);
  return model;
}

HostModel load_model_dir(const fs::path& dir, const std::string& flag) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw UserError(flag + " " + dir.string() + " is not a directory: give a utt checkpoint directory "
                    "(output_ultimate/final_checkpoint) or a Hugging Face model folder");
  }
  if (fs::exists(dir / "model_config.json")) return load_utt_checkpoint(dir, flag);
  if (fs::exists(dir / "config.json")) return read_hf_folder(dir, flag);
  throw UserError(flag + " " + dir.string() + " has neither model_config.json (a utt checkpoint) nor config.json "
                  "(a Hugging Face model folder)");
}

}  // namespace utt
