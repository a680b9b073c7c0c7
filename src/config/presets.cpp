#include "config/presets.h"

#include "util/error.h"
#include "util/text.h"

namespace utt {

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"nano", 128, 6, 4, 512, "~1M", "Tiny model for testing"},
      {"tiny", 256, 8, 8, 1024, "~5M", "Small model for resource-constrained environments"},
      {"small", 512, 12, 8, 2048, "~50M", "Balanced model for general tasks"},
      {"medium", 768, 12, 12, 3072, "~125M", "Similar to GPT-2 Small / BERT Base"},
      {"large", 1024, 24, 16, 4096, "~350M", "Large model for high-quality generation"},
      {"xlarge", 1280, 32, 20, 5120, "~700M", "Extra large model for production use"},
  };
  return presets;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : model_presets()) names.push_back(preset.name);
  return names;
}

const ModelPreset& find_preset(const std::string& name) {
  const std::string lower = to_lower(name);
  for (const auto& preset : model_presets()) {
    if (preset.name == lower) return preset;
  }
  std::string message = "unknown model preset '" + name + "': choose one of nano, tiny, small, "
                        "medium, large, xlarge (utt presets shows their sizes)";
  if (auto guess = closest_match(lower, preset_names())) message += "; did you mean " + *guess + "?";
  throw UserError(message);
}

}  // namespace utt
