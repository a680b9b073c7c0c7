#include "train/checkpoint.h"

#include <cmath>

#include "config/config_json.h"
#include "io/safetensors.h"
#include "io/staged_dir.h"
#include "model/weights_io.h"
#include "train/lora_checkpoint.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

constexpr int kTrainerStateVersion = 1;

template <class T>
T field(const nlohmann::json& json, const char* name, const std::string& source) {
  if (!json.contains(name)) {
    throw UserError(source + " lacks '" + std::string(name) + "': the checkpoint is damaged or "
                    "from an incompatible version of utt");
  }
  try {
    return json.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(source + ": '" + std::string(name) + "' has the wrong type");
  }
}

template <class T>
T optional_field(const nlohmann::json& json, const char* name, T absent, const std::string& source) {
  if (!json.contains(name)) return absent;
  return field<T>(json, name, source);
}

}  // namespace

nlohmann::json TrainerState::to_json() const {
  nlohmann::json json = {
      {"format", "utt-trainer-state"},
      {"version", kTrainerStateVersion},
      {"run_id", run_id},
      {"step", step},
      {"total_steps", total_steps},
      {"lr_restart_step", lr_restart_step},
      {"lr_restart_value", lr_restart_value},
      {"log_interval_loss", log_interval_loss},
      {"log_interval_steps", log_interval_steps},
      {"epoch", epoch},
      {"tokens_seen", tokens_seen},
      {"elapsed_seconds", elapsed_seconds},
      {"last_loss", std::isfinite(last_loss) ? nlohmann::json(last_loss) : nlohmann::json()},
      {"best_val_loss", best_val_loss ? nlohmann::json(*best_val_loss) : nlohmann::json()},
      {"loader_state", loader_state},
      {"tokenizer_fingerprint", tokenizer_fingerprint},
      {"data_parallel_ranks", data_parallel_ranks},
      {"batch_size_per_rank", batch_size_per_rank},
  };
  return json;
}

TrainerState TrainerState::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object() || json.value("format", "") != "utt-trainer-state") {
    throw UserError(source + " is not a utt trainer state");
  }
  const int version = field<int>(json, "version", source);
  if (version != kTrainerStateVersion) {
    throw UserError(source + " has version " + std::to_string(version) + "; this utt reads version " +
                    std::to_string(kTrainerStateVersion) + ": resume with the utt that wrote it");
  }
  TrainerState state;
  // Fields added after version 1 was first written are optional, with the value that means
  // "not used" (a checkpoint from before them resumes as it always did).
  state.run_id = optional_field<std::string>(json, "run_id", "", source);
  state.step = field<int64_t>(json, "step", source);
  state.total_steps = field<int64_t>(json, "total_steps", source);
  state.lr_restart_step = optional_field<int64_t>(json, "lr_restart_step", 0, source);
  state.lr_restart_value = optional_field<double>(json, "lr_restart_value", 0.0, source);
  state.log_interval_loss = optional_field<double>(json, "log_interval_loss", 0.0, source);
  state.log_interval_steps = optional_field<int64_t>(json, "log_interval_steps", 0, source);
  state.epoch = field<int64_t>(json, "epoch", source);
  state.tokens_seen = field<int64_t>(json, "tokens_seen", source);
  state.elapsed_seconds = field<double>(json, "elapsed_seconds", source);
  if (json.contains("last_loss") && json["last_loss"].is_number()) state.last_loss = json["last_loss"];
  if (json.contains("best_val_loss") && json["best_val_loss"].is_number()) {
    state.best_val_loss = json["best_val_loss"].get<double>();
  }
  state.loader_state = field<std::string>(json, "loader_state", source);
  state.tokenizer_fingerprint = field<std::string>(json, "tokenizer_fingerprint", source);
  state.data_parallel_ranks = optional_field<int64_t>(json, "data_parallel_ranks", 1, source);
  state.batch_size_per_rank = optional_field<int64_t>(json, "batch_size_per_rank", 0, source);
  if (state.data_parallel_ranks < 1 || state.batch_size_per_rank < 0) {
    throw UserError(source + " has a malformed data_parallel_ranks or batch_size_per_rank");
  }
  return state;
}

void save_checkpoint(const fs::path& dir, const Transformer& model, const AdamW& optimizer,
                     const TrainerState& state, const std::string& tokenizer_json) {
  StagedDirectory staged(dir);
  const ParameterLayout& layout = model.layout();
  if (model.lora() != nullptr) {
    save_lora_state(staged, model, optimizer);
  } else {
    // Written straight from host copies of the buffers, one file at a time, so that saving adds at
    // most the two moment copies to the training run's memory (no serialized file in memory).
    {
      const std::vector<float> weights = model.get_parameters();
      staged.write_file("model.safetensors",
                        safetensors::serialize_pieces(tensor_views(layout, weights),
                                                      {{"format", "pt"}, {"step", std::to_string(state.step)}})
                            .all());
    }
    {
      const std::vector<float> m = optimizer.first_moment();
      const std::vector<float> v = optimizer.second_moment();
      // Moments are stored under the parameter names with a prefix, so any safetensors reader shows
      // which tensor they belong to.
      std::vector<safetensors::TensorToWrite> moments = tensor_views(layout, m, "exp_avg.");
      for (auto& view : tensor_views(layout, v, "exp_avg_sq.")) moments.push_back(view);
      staged.write_file("optimizer.safetensors",
                        safetensors::serialize_pieces(
                            moments, {{"format", "utt-adamw"}, {"steps_taken", std::to_string(optimizer.steps_taken())}})
                            .all());
    }
  }

  staged.write_file("trainer_state.json", state.to_json().dump(2) + "\n");
  staged.write_file("model_config.json", model_config_to_json(model.config()).dump(2) + "\n");
  staged.write_file("tokenizer.json", tokenizer_json);
  staged.commit();
}

std::optional<std::string> missing_checkpoint_file(const fs::path& dir) {
  std::error_code error;
  auto first_missing = [&](const auto& files) -> std::optional<std::string> {
    for (const char* file : files) {
      if (!fs::is_regular_file(dir / file, error)) return std::string(file);
    }
    return std::nullopt;
  };
  return fs::is_regular_file(dir / "lora.json", error) ? first_missing(kLoraCheckpointFiles)
                                                       : first_missing(kCheckpointFiles);
}

CheckpointInfo read_checkpoint_info(const fs::path& dir) {
  CheckpointInfo info;
  if (missing_checkpoint_file(dir)) return info;
  try {
    const nlohmann::json json = nlohmann::json::parse(read_file(dir / "trainer_state.json", "trainer state"));
    const TrainerState state = TrainerState::from_json(json, dir.string());
    info.step = state.step;
    info.run_id = state.run_id;
  } catch (const std::exception&) {
    info.step = -1;
  }
  return info;
}

TrainerState read_trainer_state(const fs::path& dir) {
  const fs::path state_path = dir / "trainer_state.json";
  nlohmann::json state_json;
  try {
    state_json = nlohmann::json::parse(read_file(state_path, "trainer state"));
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError(state_path.string() + " is not valid JSON: " + error.what());
  }
  return TrainerState::from_json(state_json, state_path.string());
}

ModelConfig read_checkpoint_model_config(const fs::path& dir) {
  const fs::path path = dir / "model_config.json";
  const std::string text = read_file(path, "checkpoint model configuration");
  try {
    return model_config_from_json(nlohmann::json::parse(text), path.string());
  } catch (const nlohmann::json::parse_error& error) {
    throw UserError(path.string() + " is not valid JSON: " + error.what());
  }
}

TrainerState load_checkpoint(const fs::path& dir, Transformer& model, AdamW& optimizer,
                             const std::string& tokenizer_fingerprint) {
  const ModelConfig stored = read_checkpoint_model_config(dir);
  const std::string differences = model_config_differences(stored, model.config());
  if (!differences.empty()) {
    throw UserError("cannot resume from " + dir.string() + ": its model differs from this run's (" +
                    differences + "); use the flags the checkpoint was trained with");
  }
  TrainerState state = read_trainer_state(dir);
  if (state.tokenizer_fingerprint != tokenizer_fingerprint) {
    throw UserError("cannot resume from " + dir.string() + ": it was trained with another tokenizer (" +
                    state.tokenizer_fingerprint + ", this run has " + tokenizer_fingerprint +
                    "); resume with the tokenizer.json of that run (--tokenizer-path " +
                    (dir / "tokenizer.json").string() + ")");
  }
  if (model.lora() != nullptr) {
    load_lora_state(dir, model, optimizer, state.step);
    return state;
  }
  load_weights(model, (dir / "model.safetensors").string());
  const fs::path optimizer_path = dir / "optimizer.safetensors";
  const safetensors::File file = safetensors::File::read(optimizer_path.string());
  const ParameterLayout& layout = model.layout();
  const std::string what = "optimizer state in " + optimizer_path.string();
  const std::vector<float> m = read_layout_buffer(layout, file, what, "exp_avg.");
  const std::vector<float> v = read_layout_buffer(layout, file, what, "exp_avg_sq.");
  optimizer.restore(m, v, state.step);
  return state;
}

}  // namespace utt
