// The end of a run: training_summary.json and the closing lines on the console.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "train/trainer.h"

namespace utt {

// How the run's steps relate to its data, for epochs_completed.
struct EpochCount {
  int64_t epochs = 1;             // --epochs
  int64_t data_steps = 0;         // optimizer steps the epochs hold
  int64_t batches_per_epoch = 1;  // full batches of one epoch
  int64_t accumulation = 1;       // batches per optimizer step
};

// Epochs whose every batch was trained on: all of them once the run reached the end of its
// data, else the batches consumed over the batches of one epoch.
int64_t completed_epochs(int64_t steps, const EpochCount& count);

struct RunOutputs {
  std::filesystem::path output_dir;
  nlohmann::json configuration;  // every flag's value
  ModelConfig model;
  EpochCount epochs;
  double documents_per_batch = 0;  // measured over this session's batches (BatchMix)
  double flops_per_token = 0;        // model FLOPs of one trained token (config/flop_count.h)
  double peak_flops_per_second = 0;  // of all ranks together; 0: unknown
  std::string peak_source;           // how the peak was found
  nlohmann::json time_budget;        // --time-budget: the plan and how the run kept to it (null without)
  // With --cloud-provider: training_summary.json's "cloud" entry, where the checkpoints went, and
  // those this session uploaded that are still there.
  nlohmann::json cloud;
  std::string cloud_location;
  std::vector<std::string> cloud_checkpoints;
};

void write_summary(const RunOutputs& run, const TrainingResult& result);

// "Training finished after ...", the data-exhausted note, and the "Outputs:" line listing what
// is in the output directory (and, with --cloud-provider, the "Cloud:" line naming the
// checkpoints uploaded).
void print_closing_lines(const RunOutputs& run, const TrainingResult& result);

}  // namespace utt
