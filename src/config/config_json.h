// ModelConfig <-> model_config.json, the file every output directory and checkpoint carries.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/model_config.h"

namespace utt {

nlohmann::json model_config_to_json(const ModelConfig& config);

// Throws UserError naming `source` and the missing or malformed field.
ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& source);

// The fields in which two configurations differ, e.g. "d_model 256 vs 512; rope true vs false"
// (empty when they describe the same architecture), for refusing an incompatible resume.
std::string model_config_differences(const ModelConfig& a, const ModelConfig& b);

}  // namespace utt
