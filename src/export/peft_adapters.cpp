#include "export/peft_adapters.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "export/hf_layout.h"
#include "io/safetensors.h"
#include "model/parameter_layout.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

struct PeftModule {
  std::string name;     // the module's full name in PEFT's file, without .lora_A.weight
  std::string target;   // its target_modules entry
  std::vector<int64_t> adapters;  // one, or GPT-2's q/k/v adapters on c_attn
};

std::string module_suffix(LoraTarget t, HfArchitecture architecture) {
  if (architecture == HfArchitecture::kLlama) {
    switch (t) {
      case LoraTarget::kQ: return "self_attn.q_proj";
      case LoraTarget::kK: return "self_attn.k_proj";
      case LoraTarget::kV: return "self_attn.v_proj";
      case LoraTarget::kO: return "self_attn.o_proj";
      case LoraTarget::kGate: return "mlp.gate_proj";
      case LoraTarget::kUp: return "mlp.up_proj";
      case LoraTarget::kDown: return "mlp.down_proj";
    }
  }
  switch (t) {
    case LoraTarget::kQ: case LoraTarget::kK: case LoraTarget::kV: return "attn.c_attn";
    case LoraTarget::kO: return "attn.c_proj";
    case LoraTarget::kUp: return "mlp.c_fc";
    case LoraTarget::kDown: return "mlp.c_proj";
    case LoraTarget::kGate: break;
  }
  return "";
}

std::vector<PeftModule> peft_modules(const LoraLayout& layout, HfArchitecture architecture) {
  std::vector<PeftModule> modules;
  const std::string prefix = architecture == HfArchitecture::kLlama ? "base_model.model.model.layers."
                                                                     : "base_model.model.transformer.h.";
  for (size_t i = 0; i < layout.adapters().size(); ++i) {
    const LoraAdapter& a = layout.adapters()[i];
    const std::string suffix = module_suffix(a.target, architecture);
    const std::string name = prefix + std::to_string(a.layer) + "." + suffix;
    if (!modules.empty() && modules.back().name == name) {
      modules.back().adapters.push_back(static_cast<int64_t>(i));  // GPT-2 c_attn
    } else {
      const std::string target = architecture == HfArchitecture::kLlama ? suffix.substr(suffix.find('.') + 1) : suffix;
      modules.push_back({name, target, {static_cast<int64_t>(i)}});
    }
  }
  return modules;
}

HfArchitecture peft_architecture(const ModelConfig& model) {
  try {
    return export_architecture(model, "hf");
  } catch (const UserError& error) {
    throw UserError(std::string("LoRA adapters are written in PEFT's layout, which needs a Llama- or GPT-2-style "
                                "base: ") + error.what());
  }
}

}  // namespace

std::string base_fingerprint(const std::vector<float>& weights) {
  uint64_t hash = 1469598103934665603ULL;
  const auto* bytes = reinterpret_cast<const unsigned char*>(weights.data());
  for (size_t i = 0; i < weights.size() * sizeof(float); ++i) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  return fmt::format("{:016x}", hash);
}

void check_peft_exportable(const ModelConfig& model) { peft_architecture(model); }

void write_peft_adapters(StagedDirectory& staged, const ModelConfig& model, const LoraLayout& layout,
                         const std::vector<float>& adapters, const LoraBase& base) {
  const HfArchitecture architecture = peft_architecture(model);
  const LoraSettings& s = layout.settings();
  const int64_t r = s.rank;
  std::vector<std::vector<float>> storage;
  storage.reserve(2 * layout.adapters().size());
  std::vector<safetensors::TensorToWrite> tensors;
  nlohmann::ordered_json rank_pattern = nlohmann::ordered_json::object();
  nlohmann::ordered_json alpha_pattern = nlohmann::ordered_json::object();
  std::vector<std::string> targets;
  for (const PeftModule& m : peft_modules(layout, architecture)) {
    const LoraAdapter& first = layout.adapters()[static_cast<size_t>(m.adapters[0])];
    const int64_t ranks = r * static_cast<int64_t>(m.adapters.size());
    const int64_t width = m.adapters.size() > 1 ? layout.group(first.layer, LoraGroup::kQkv).width : first.out;
    std::vector<float> a_matrix, b_matrix(static_cast<size_t>(width * ranks), 0.0f);
    for (size_t j = 0; j < m.adapters.size(); ++j) {
      const LoraAdapter& a = layout.adapters()[static_cast<size_t>(m.adapters[j])];
      a_matrix.insert(a_matrix.end(), adapters.begin() + a.a_offset, adapters.begin() + a.a_offset + r * a.in);
      const int64_t row0 = m.adapters.size() > 1 ? a.column : 0;
      for (int64_t k = 0; k < r; ++k) {
        for (int64_t o = 0; o < a.out; ++o) {
          b_matrix[static_cast<size_t>((row0 + o) * ranks + static_cast<int64_t>(j) * r + k)] =
              adapters[static_cast<size_t>(a.b_offset + k * a.out + o)];
        }
      }
    }
    storage.push_back(std::move(a_matrix));
    tensors.push_back({m.name + ".lora_A.weight", safetensors::Dtype::kF32, {ranks, first.in}, storage.back().data()});
    storage.push_back(std::move(b_matrix));
    tensors.push_back({m.name + ".lora_B.weight", safetensors::Dtype::kF32, {width, ranks}, storage.back().data()});
    if (std::find(targets.begin(), targets.end(), m.target) == targets.end()) targets.push_back(m.target);
    if (ranks != r) {
      rank_pattern[m.target] = ranks;
      alpha_pattern[m.target] = s.alpha * static_cast<double>(ranks) / static_cast<double>(r);
    }
  }
  const nlohmann::ordered_json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base.path},
      {"r", r},
      {"lora_alpha", s.alpha},
      {"lora_dropout", s.dropout},
      {"target_modules", targets},
      {"bias", "none"},
      {"fan_in_fan_out", architecture == HfArchitecture::kGpt2},  // GPT-2's Conv1D stores [in, out]
      {"init_lora_weights", true},
      {"use_rslora", false},
      {"use_dora", false},
      {"rank_pattern", rank_pattern},
      {"alpha_pattern", alpha_pattern},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
      {"inference_mode", true}};
  const nlohmann::ordered_json lora = {{"format", "utt-lora"},
                                       {"rank", r},
                                       {"alpha", s.alpha},
                                       {"dropout", s.dropout},
                                       {"targets", lora_targets_text(s.targets)},
                                       {"base", base.path},
                                       {"base_fingerprint", base.fingerprint}};
  staged.write_file("adapter_model.safetensors", safetensors::serialize_pieces(tensors, {{"format", "pt"}}).all());
  staged.write_file("adapter_config.json", config.dump(2) + "\n");
  staged.write_file("lora.json", lora.dump(2) + "\n");
}

StoredLora read_lora_json(const fs::path& dir) {
  const fs::path path = dir / "lora.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path, "LoRA settings"));
    StoredLora stored;
    stored.settings.rank = j.at("rank").get<int64_t>();
    stored.settings.alpha = j.at("alpha").get<double>();
    stored.settings.dropout = j.at("dropout").get<double>();
    stored.base.path = j.at("base").get<std::string>();
    stored.base.fingerprint = j.at("base_fingerprint").get<std::string>();
    ModelConfig any;
    any.swiglu = true;  // gate allowed here; the model check happened when the run started
    stored.settings.targets = parse_lora_targets(j.at("targets").get<std::string>(), any);
    return stored;
  } catch (const nlohmann::json::exception& error) {
    throw UserError(path.string() + " is damaged (" + error.what() + "): it is not a utt LoRA checkpoint");
  }
}

std::vector<float> read_peft_adapters(const fs::path& dir, const ModelConfig& model, const LoraLayout& layout) {
  const HfArchitecture architecture = peft_architecture(model);
  const std::string path = (dir / "adapter_model.safetensors").string();
  const safetensors::File file = safetensors::File::read(path);
  const int64_t r = layout.settings().rank;
  std::vector<float> adapters(static_cast<size_t>(layout.total()), 0.0f);
  for (const PeftModule& m : peft_modules(layout, architecture)) {
    const LoraAdapter& first = layout.adapters()[static_cast<size_t>(m.adapters[0])];
    const int64_t ranks = r * static_cast<int64_t>(m.adapters.size());
    const int64_t width = m.adapters.size() > 1 ? layout.group(first.layer, LoraGroup::kQkv).width : first.out;
    const std::string a_name = m.name + ".lora_A.weight", b_name = m.name + ".lora_B.weight";
    if (file.find(a_name) == nullptr || file.find(b_name) == nullptr ||
        file.at(a_name).shape != std::vector<int64_t>{ranks, first.in} ||
        file.at(b_name).shape != std::vector<int64_t>{width, ranks}) {
      throw UserError(path + " lacks " + m.name + "'s adapters of rank " + std::to_string(ranks) +
                      ": the checkpoint was written with other --lora-rank or --lora-targets");
    }
    const std::vector<float> a_matrix = file.read_floats(a_name);
    const std::vector<float> b_matrix = file.read_floats(b_name);
    for (size_t j = 0; j < m.adapters.size(); ++j) {
      const LoraAdapter& a = layout.adapters()[static_cast<size_t>(m.adapters[j])];
      std::copy(a_matrix.begin() + static_cast<int64_t>(j) * r * a.in, a_matrix.begin() + (static_cast<int64_t>(j) + 1) * r * a.in,
                adapters.begin() + a.a_offset);
      const int64_t row0 = m.adapters.size() > 1 ? a.column : 0;
      for (int64_t k = 0; k < r; ++k) {
        for (int64_t o = 0; o < a.out; ++o) {
          adapters[static_cast<size_t>(a.b_offset + k * a.out + o)] =
              b_matrix[static_cast<size_t>((row0 + o) * ranks + static_cast<int64_t>(j) * r + k)];
        }
      }
    }
  }
  return adapters;
}

void merge_lora(const ModelConfig& model, const LoraLayout& layout, const std::vector<float>& adapters,
                std::vector<float>& weights) {
  const ParameterLayout base(model);
  const int64_t r = layout.settings().rank;
  const double scale = layout.settings().scale();
  for (const LoraAdapter& a : layout.adapters()) {
    const ParameterTensor* w = base.find(a.name + ".weight");
    UTT_CHECK(w != nullptr && w->shape == (std::vector<int64_t>{a.out, a.in}), "LoRA target " + a.name + " not in the model");
    for (int64_t o = 0; o < a.out; ++o) {
      for (int64_t i = 0; i < a.in; ++i) {
        double delta = 0;
        for (int64_t k = 0; k < r; ++k) {
          delta += static_cast<double>(adapters[static_cast<size_t>(a.b_offset + k * a.out + o)]) *
                   adapters[static_cast<size_t>(a.a_offset + k * a.in + i)];
        }
        float& value = weights[static_cast<size_t>(w->offset + o * a.in + i)];
        value = static_cast<float>(value + scale * delta);
      }
    }
  }
}

}  // namespace utt
