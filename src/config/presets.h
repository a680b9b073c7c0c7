// The guide's six model presets, with its exact dimensions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace utt {

struct ModelPreset {
  std::string name;
  int64_t d_model;
  int64_t num_layers;
  int64_t num_heads;
  int64_t d_ff;
  std::string guide_size;  // the guide's rough figure, e.g. "~5M"
  std::string description;
};

const std::vector<ModelPreset>& model_presets();

// Throws UserError (with a "did you mean") for an unknown name.
const ModelPreset& find_preset(const std::string& name);

std::vector<std::string> preset_names();

}  // namespace utt
