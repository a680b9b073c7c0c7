// One checkpoint directory: everything needed to continue a run exactly where it stopped.
//
//   model.safetensors      fp32 weights under the tensors' own names (any safetensors reader)
//   optimizer.safetensors  AdamW moments: "exp_avg.<tensor>" and "exp_avg_sq.<tensor>"
//   trainer_state.json     step, schedule length, tokens seen, best validation loss, the data
//                          loader's position, the tokenizer's fingerprint
//   model_config.json      the architecture
//   tokenizer.json         the tokenizer the model was trained with
//
// Written through a StagedDirectory: a crash or a full disk never leaves half a checkpoint
// under a real name, and the previous checkpoints stay intact.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "model/transformer.h"
#include "train/adamw.h"

namespace utt {

struct TrainerState {
  int64_t step = 0;         // optimizer steps completed
  int64_t total_steps = 0;  // the schedule's length
  int64_t epoch = 0;
  int64_t tokens_seen = 0;
  double elapsed_seconds = 0;
  double last_loss = 0;
  std::optional<double> best_val_loss;
  std::string loader_state;  // the data loader's own serialization
  std::string tokenizer_fingerprint;

  nlohmann::json to_json() const;
  // Throws UserError naming `source` for a missing or malformed field.
  static TrainerState from_json(const nlohmann::json& json, const std::string& source);
};

void save_checkpoint(const std::filesystem::path& dir, const Transformer& model,
                     const AdamW& optimizer, const TrainerState& state,
                     const std::string& tokenizer_json);

// The step recorded in dir/trainer_state.json (-1 when unreadable), for `--resume-from latest`.
int64_t checkpoint_step(const std::filesystem::path& dir);

// The architecture stored in a checkpoint (dir/model_config.json).
ModelConfig read_checkpoint_model_config(const std::filesystem::path& dir);

// Loads weights, optimizer state and trainer state. Refuses (UserError saying what differs) a
// checkpoint whose architecture differs from `model`'s or whose tokenizer fingerprint differs
// from `tokenizer_fingerprint`.
TrainerState load_checkpoint(const std::filesystem::path& dir, Transformer& model,
                             AdamW& optimizer, const std::string& tokenizer_fingerprint);

}  // namespace utt
