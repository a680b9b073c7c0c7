#include "export/hf_reader.h"

#include <map>
#include <memory>
#include <set>

#include "export/hf_config.h"
#include "io/safetensors.h"
#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

nlohmann::json parse_json_file(const fs::path& path, const std::string& what) {
  const std::string text = read_file(path, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError(path.string() + " is not valid JSON (" + error.what() + "): re-create or re-download it");
  }
}

// The weight files of a folder: one model.safetensors, or the shards an index names.
class WeightFiles {
 public:
  WeightFiles(const fs::path& dir, const std::string& flag) {
    const fs::path single = dir / "model.safetensors";
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(single)) {
      files_.push_back(std::make_unique<safetensors::File>(safetensors::File::read(single.string())));
    } else if (fs::exists(index)) {
      read_index(dir, index);
    } else {
      const bool pickle = fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json");
      throw UserError(flag + " " + dir.string() + " has no model.safetensors (nor model.safetensors.index.json)" +
                      (pickle ? ": utt reads safetensors only; save the model with "
                                "save_pretrained(..., safe_serialization=True)"
                              : ": copy the model's weight files into the folder"));
    }
    for (const auto& file : files_) {
      for (const safetensors::TensorInfo& info : file->tensors()) {
        if (!where_.emplace(info.name, file.get()).second) {
          throw UserError("tensor '" + info.name + "' appears in more than one weight file of " + dir.string() +
                          ": the shards are from different models");
        }
      }
    }
  }

  const safetensors::File* find(const std::string& name) const {
    auto it = where_.find(name);
    return it == where_.end() ? nullptr : it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> list;
    for (const auto& [name, file] : where_) list.push_back(name);
    return list;
  }

 private:
  void read_index(const fs::path& dir, const fs::path& index) {
    const nlohmann::json json = parse_json_file(index, "sharded weight index");
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object()) {
      throw UserError(index.string() + " has no weight_map object: it is not a safetensors shard index");
    }
    std::set<std::string> shard_names;
    for (const auto& [tensor, file] : json["weight_map"].items()) {
      if (!file.is_string()) throw UserError(index.string() + ": weight_map entry '" + tensor + "' is not a file name");
      const std::string name = file.get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        throw UserError(index.string() + ": weight_map names '" + name + "', which is not a file in the folder");
      }
      shard_names.insert(name);
    }
    for (const std::string& name : shard_names) {
      if (!fs::exists(dir / name)) {
        throw UserError("the sharded weights in " + dir.string() + " are incomplete: " + name + ", named by " +
                        "model.safetensors.index.json, is missing; download every shard");
      }
    }
    std::map<std::string, const safetensors::File*> loaded;
    for (const std::string& name : shard_names) {
      files_.push_back(std::make_unique<safetensors::File>(safetensors::File::read((dir / name).string())));
      loaded[name] = files_.back().get();
    }
    // Every tensor the index promises must be in the shard it names.
    for (const auto& [tensor, file] : json["weight_map"].items()) {
      if (loaded.at(file.get<std::string>())->find(tensor) == nullptr) {
        throw UserError("the sharded weights in " + dir.string() + " are incomplete: " + file.get<std::string>() +
                        " lacks tensor '" + tensor + "' that model.safetensors.index.json places there");
      }
    }
  }

  std::vector<std::unique_ptr<safetensors::File>> files_;
  std::map<std::string, const safetensors::File*> where_;
};

// Buffers some HF checkpoints carry that are not weights.
bool is_ignored_buffer(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".attn.bias") || ends(".attn.masked_bias") || ends("rotary_emb.inv_freq");
}

}  // namespace

HostModel read_hf_folder(const fs::path& dir, const std::string& flag) {
  const fs::path config_path = dir / "config.json";
  HfArchitecture architecture = HfArchitecture::kLlama;
  ModelConfig config = model_config_from_hf(parse_json_file(config_path, "model configuration"),
                                            config_path.string(), &architecture);
  const fs::path tokenizer_path = dir / "tokenizer.json";
  if (!fs::exists(tokenizer_path)) {
    throw UserError(flag + " " + dir.string() + " has no tokenizer.json: utt needs the model's tokenizer in "
                    "Hugging Face's tokenizer.json format beside config.json");
  }
  HostModel model;
  model.source = dir.string();
  model.kind = "Hugging Face " + hf_class_name(architecture) + " folder";
  model.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::load(tokenizer_path.string()));
  if (model.tokenizer->vocab_size() != static_cast<uint32_t>(config.vocab_size)) {
    throw UserError(dir.string() + ": tokenizer.json has " + std::to_string(model.tokenizer->vocab_size()) +
                    " tokens but config.json's vocab_size is " + std::to_string(config.vocab_size) +
                    ": utt needs a tokenizer with exactly the model's vocabulary (the files are from different "
                    "models, or the embedding is padded)");
  }

  const WeightFiles files(dir, flag);
  std::set<std::string> used;
  // Names may lack the base-model prefix (the original gpt2 checkpoint has `h.0.attn...`).
  const std::string prefix = architecture == HfArchitecture::kLlama ? "model." : "transformer.";
  auto reader = [&](const std::string& name, const std::vector<int64_t>& shape) {
    std::string stored = name;
    const safetensors::File* file = files.find(stored);
    if (file == nullptr && name.compare(0, prefix.size(), prefix) == 0) {
      stored = name.substr(prefix.size());
      file = files.find(stored);
    }
    if (file == nullptr) {
      throw UserError("the weights in " + dir.string() + " lack tensor '" + name + "' that config.json implies: "
                      "the weight files and config.json are from different models");
    }
    const safetensors::TensorInfo& info = file->at(stored);
    if (info.shape != shape) {
      throw UserError("tensor '" + stored + "' in " + dir.string() + " has shape " + shape_text(info.shape) +
                      " but config.json implies " + shape_text(shape) +
                      ": the weight files and config.json are from different models");
    }
    used.insert(stored);
    return file->read_floats(stored);
  };
  model.weights = from_hf_tensors(config, architecture, reader);
  model.config = config;
  for (const std::string& name : files.names()) {
    if (used.count(name) || is_ignored_buffer(name)) continue;
    if (config.tie_embeddings && (name == "lm_head.weight")) continue;  // a tied head saved twice
    throw UserError("the weights in " + dir.string() + " hold tensor '" + name + "', which a " +
                    hf_class_name(architecture) + " with this config.json does not have: the weight files and "
                    "config.json are from different models");
  }
  return model;
}

}  // namespace utt
