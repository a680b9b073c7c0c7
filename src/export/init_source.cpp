#include "export/init_source.h"

#include <fmt/format.h>

#include "config/config_json.h"
#include "export/host_model.h"
#include "export/peft_adapters.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

// The architecture stored in DIR. The whole folder is read and checked here (weights, shards,
// tokenizer), so that a bad one is refused before the run writes anything.
ModelConfig stored_architecture(const std::string& dir) { return load_model_dir(dir, "--init-from").config; }

struct ArchitectureFlag {
  const char* flag;
  std::string (*value)(const ModelConfig&);
};

std::string yes_no(bool value) { return value ? "on" : "off"; }

const std::vector<ArchitectureFlag>& architecture_flags() {
  static const std::vector<ArchitectureFlag> flags = {
      {"vocab-size", [](const ModelConfig& m) { return std::to_string(m.vocab_size); }},
      {"d-model", [](const ModelConfig& m) { return std::to_string(m.d_model); }},
      {"num-layers", [](const ModelConfig& m) { return std::to_string(m.num_layers); }},
      {"num-heads", [](const ModelConfig& m) { return std::to_string(m.num_heads); }},
      {"num-kv-heads", [](const ModelConfig& m) { return std::to_string(m.num_kv_heads); }},
      {"d-ff", [](const ModelConfig& m) { return std::to_string(m.d_ff); }},
      {"rmsnorm", [](const ModelConfig& m) { return yes_no(m.rmsnorm); }},
      {"swiglu", [](const ModelConfig& m) { return yes_no(m.swiglu); }},
      {"rope", [](const ModelConfig& m) { return yes_no(m.rope); }},
      {"tie-embeddings", [](const ModelConfig& m) { return yes_no(m.tie_embeddings); }},
      {"activation", [](const ModelConfig& m) { return to_string(m.activation); }},
  };
  return flags;
}

}  // namespace

ResolvedModel resolve_init_model(const TrainConfig& c) {
  const std::string& dir = *c.init_from;
  for (const char* flag : {"model-preset", "target-params", "prefer-depth", "auto-vocab-size", "min-vocab-size",
                           "max-vocab-size", "tokenizer-path", "retrain-tokenizer", "tokenizer-train-examples"}) {
    if (c.was_set(flag)) {
      throw UserError(std::string("--") + flag + " cannot be combined with --init-from: the model and its tokenizer "
                      "come from " + dir + "; remove --" + flag);
    }
  }
  ModelConfig model = stored_architecture(dir);
  for (const ArchitectureFlag& flag : architecture_flags()) {
    if (!c.was_set(flag.flag)) continue;
    const std::string asked = flag.value(c.model);
    const std::string stored = flag.value(model);
    if (asked != stored) {
      throw UserError(fmt::format("--{} {} contradicts the model in {} ({}): the architecture comes from "
                                  "--init-from; remove --{}",
                                  flag.flag, asked, dir, stored, flag.flag));
    }
  }
  // The run's own choices: they change how the model trains, not its weights.
  model.dropout_rate = c.model.dropout_rate;
  model.flash_attention = c.model.flash_attention;
  if (c.was_set("seq-len") && c.model.seq_len != model.seq_len) {
    if (!model.rope) {
      throw UserError(fmt::format("--seq-len {} contradicts the model in {}: its learned position table holds {} "
                                  "positions; remove --seq-len",
                                  c.model.seq_len, dir, model.seq_len));
    }
    if (c.model.seq_len > model.seq_len) {
      throw UserError(fmt::format("--seq-len {} is longer than the {} positions the model in {} was made for; use "
                                  "at most {}",
                                  c.model.seq_len, model.seq_len, dir, model.seq_len));
    }
    model.seq_len = c.model.seq_len;
  }
  return {model, "--init-from " + dir};
}

LoraSettings lora_settings(const TrainConfig& c, const ModelConfig& model) {
  check_peft_exportable(model);
  LoraSettings s;
  s.rank = c.lora_rank;
  s.alpha = c.lora_alpha.value_or(2.0 * static_cast<double>(c.lora_rank));
  s.dropout = c.lora_dropout;
  s.targets = parse_lora_targets(c.lora_targets, model);
  return s;
}

std::unique_ptr<LoraAdapters> start_lora(const TrainConfig& c, Transformer& model, Backend& backend) {
  if (!c.use_lora) return nullptr;
  const std::vector<float> base = load_init_weights(*c.init_from, model.config());
  model.set_parameters(base);
  auto lora = std::make_unique<LoraAdapters>(model.config(), lora_settings(c, model.config()), backend,
                                             model.max_batch() * model.config().seq_len);
  lora->set_parameters(initial_lora_parameters(lora->layout(), static_cast<uint64_t>(c.seed)));
  lora->base_path = fs::absolute(*c.init_from).lexically_normal().string();
  lora->base_fingerprint = base_fingerprint(base);
  model.attach_lora(lora.get());
  const LoraSettings& s = lora->layout().settings();
  fmt::print("LoRA: rank {}, alpha {}, dropout {}, targets {}; {} trainable parameters ({:.2f}% of the frozen "
             "base, {})\n",
             s.rank, s.alpha, s.dropout, lora_targets_text(s.targets), lora->count(),
             100.0 * static_cast<double>(lora->count()) / static_cast<double>(model.parameter_count()), *c.init_from);
  return lora;
}

fs::path init_tokenizer_path(const std::string& dir) { return fs::path(dir) / "tokenizer.json"; }

std::vector<float> load_init_weights(const std::string& dir, const ModelConfig& model) {
  HostModel source = load_model_dir(dir, "--init-from");
  ModelConfig stored = source.config;
  stored.dropout_rate = model.dropout_rate;
  stored.flash_attention = model.flash_attention;
  if (model.rope) stored.seq_len = model.seq_len;  // RoPE weights do not depend on it
  const std::string differences = model_config_differences(stored, model);
  if (!differences.empty()) {
    throw UserError("--init-from " + dir + " holds a different model than this run's (" + differences +
                    "): the folder changed while the run started");
  }
  return std::move(source.weights);
}

}  // namespace utt
