// One checkpoint directory: everything needed to continue a run exactly where it stopped.
//
//   model.safetensors      fp32 weights under the tensors' own names (any safetensors reader)
//   optimizer.safetensors  AdamW moments: "exp_avg.<tensor>" and "exp_avg_sq.<tensor>"
//   trainer_state.json     the run's id, step, schedule (length; where a resumed run re-planned
//                          it), tokens seen, best validation loss, the log interval in
//                          progress, the data loader's position, the tokenizer's fingerprint
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
#include "train/checkpoint_dirs.h"

namespace utt {

struct TrainerState {
  std::string run_id;       // the run this checkpoint belongs to (empty: written before run ids)
  int64_t step = 0;         // optimizer steps completed
  int64_t total_steps = 0;  // the schedule's length
  // Set when a resumed run changed the schedule's length: from this step on the cosine decay
  // runs from lr_restart_value to the floor at total_steps (see lr_schedule.h). 0: never.
  int64_t lr_restart_step = 0;
  double lr_restart_value = 0;
  // The steps since the last log line (their summed loss and count), so that a resumed run
  // logs the same averages as the uninterrupted one.
  double log_interval_loss = 0;
  int64_t log_interval_steps = 0;
  int64_t epoch = 0;
  int64_t tokens_seen = 0;
  double elapsed_seconds = 0;
  double last_loss = 0;
  std::optional<double> best_val_loss;
  std::string loader_state;  // the data loader's own serialization
  std::string tokenizer_fingerprint;
  // Data parallelism: the ranks that trained and the rows each took per micro-batch (their
  // product is the loader's batch). A resume on other ranks is checked against these.
  int64_t data_parallel_ranks = 1;
  int64_t batch_size_per_rank = 0;  // 0: written before data parallelism (one rank)

  nlohmann::json to_json() const;
  // Throws UserError naming `source` for a missing or malformed field.
  static TrainerState from_json(const nlohmann::json& json, const std::string& source);
};

void save_checkpoint(const std::filesystem::path& dir, const Transformer& model,
                     const AdamW& optimizer, const TrainerState& state,
                     const std::string& tokenizer_json);

// Reads dir/trainer_state.json; a checkpoint lacking any of its files reads as step -1.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& dir);

// dir/trainer_state.json, checked. Throws UserError naming the file.
TrainerState read_trainer_state(const std::filesystem::path& dir);

// The architecture stored in a checkpoint (dir/model_config.json).
ModelConfig read_checkpoint_model_config(const std::filesystem::path& dir);

// Every file a complete checkpoint holds.
inline constexpr const char* kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors",
                                                   "trainer_state.json", "model_config.json",
                                                   "tokenizer.json"};
// A LoRA run's checkpoints (lora.json present) hold the adapters in PEFT's layout instead of
// model.safetensors.
inline constexpr const char* kLoraCheckpointFiles[] = {"adapter_model.safetensors", "adapter_config.json",
                                                       "lora.json", "optimizer.safetensors",
                                                       "trainer_state.json", "model_config.json",
                                                       "tokenizer.json"};

// The first file a complete checkpoint of its kind would hold that `dir` lacks; nullopt when
// none is missing.
std::optional<std::string> missing_checkpoint_file(const std::filesystem::path& dir);

// Loads weights, optimizer state and trainer state. Refuses (UserError saying what differs) a
// checkpoint whose architecture differs from `model`'s or whose tokenizer fingerprint differs
// from `tokenizer_fingerprint`.
TrainerState load_checkpoint(const std::filesystem::path& dir, Transformer& model,
                             AdamW& optimizer, const std::string& tokenizer_fingerprint);

}  // namespace utt
