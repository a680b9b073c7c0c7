// A whole `utt train` run, stage by stage: dataset files, tokenizer, model size, data loaders,
// model and optimizer (fresh or from a checkpoint), the training loop, training_summary.json.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "backend/backend_factory.h"
#include "config/batch_size.h"
#include "config/train_config.h"
#include "dist/communicator.h"

namespace utt {

struct TrainingRunInputs {
  TrainConfig config;
  ModelConfig model;                 // resolved (preset, budget or explicit); vocab set here
  std::string resume_command;        // how to continue this run, for the stop message
  nlohmann::json configuration;      // every flag's value, for training_summary.json
  std::string device_banner;         // the guide's "Backend: ... / Devices: ..." lines
  std::string batch_note;            // --batch-size auto: the "Batch: auto:" line
  BackendKind backend = BackendKind::kCpu;  // the device plan's choice
  int device = 0;                           // CUDA device of this rank (its rank on its machine)
  FreeMemory memory;  // the device's, for a --time-budget's sizes (and their batches with --batch-size auto)
  // When `utt train` started (for a worker of --num-devices, its launcher): a --time-budget
  // counts from here.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Returns the process exit code: 0 when the run completed, 130 / 143 when SIGINT / SIGTERM
// stopped it after saving a checkpoint. Throws UserError for bad input.
//
// With several ranks every rank calls this with the same inputs; each checks everything and
// builds its model, then rank 0 alone creates and writes the output directory (after every
// rank has finished looking at it) while the others only train (trainer.h).
int run_training(const TrainingRunInputs& inputs, Communicator& ranks);

}  // namespace utt
