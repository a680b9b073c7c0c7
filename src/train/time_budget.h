// --time-budget: plan a run from the time it may take.
//
// utt measures how fast this machine trains candidate model sizes (a short probe, a few steps
// each), then picks the size and token count with the lowest expected loss that fit the time
// left, by the parametric scaling law of Hoffmann et al. 2022 ("Training Compute-Optimal Large
// Language Models", approach 3):
//
//   L(N, D) = E + A / N^alpha + B / D^beta,  E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28
//
// whose compute-optimal trade-off puts about 20 tokens per parameter. Data that must repeat
// counts as less than fresh data, by Muennighoff et al. 2023 ("Scaling Data-Constrained
// Language Models"): D repeated tokens of U unique ones are worth
//
//   D' = U + U R* (1 - exp(-R / R*)),  R = D / U - 1 repetitions, R* = 15.4
//
// and a plan never goes past 16 epochs (beyond, the fit gives repetitions next to no value).
// N counts the parameters that compute per token: the blocks and the LM head (a tied head
// counted once). docs/time-budget.md says more, with what the fit does not promise at the small
// sizes a CPU trains.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "config/batch_size.h"
#include "config/model_config.h"
#include "config/train_config.h"
#include "dist/communicator.h"

namespace utt {

inline constexpr double kMaxBudgetEpochs = 16;
inline constexpr int64_t kMinBudgetSteps = 20;  // fewer cannot even warm up

// The parameters the scaling law counts (see above).
double scaling_parameters(const ModelConfig& model);

// Tokens' worth of `tokens` trained on `unique_tokens` of distinct data (Muennighoff).
double effective_tokens(double tokens, double unique_tokens);

// The loss the fit expects of a model of `parameters` trained on `effective` tokens.
double expected_loss(double parameters, double effective);

// Candidate models for a budget: one (the fixed model) when `fixed` is set, else a ladder of
// sizes, doubling, of the run's architecture (`base`: vocabulary, seq_len, switches) as
// --target-params would size them, smallest first.
std::vector<ModelConfig> budget_candidates(const ModelConfig& base, bool prefer_depth);

// How fast one candidate trains here, measured, with the batch it would train with.
struct ThroughputProbe {
  ModelConfig model;
  int64_t batch_size = 1;    // rows per rank and micro-batch
  int64_t accumulation = 1;  // micro-batches per optimizer step
  int64_t ranks = 1;         // data-parallel ranks, each with batch_size x accumulation rows
  std::string batch_note;    // --batch-size auto: the choice for this size and why
  double step_seconds = 0;     // one optimizer step: every micro-batch's forward and backward, the update
  double forward_seconds = 0;  // one micro-batch's forward alone (what validation costs per batch)
  double probe_seconds = 0;    // wall time the probe took, building the model included
};

struct ProbeSettings {
  BackendChoice backend;
  int64_t batch_size = 1;
  int64_t accumulation = 1;
  int timed_steps = 3;  // at least, after one untimed step
  // Several ranks probe together: each step sums the gradients over them as training does, the
  // steps are exactly `timed_steps` (a collective per step: no rank may time more), and the
  // times are the slowest rank's. Null: this process alone.
  Communicator* ranks = nullptr;
};

ThroughputProbe probe_throughput(const ModelConfig& model, const ProbeSettings& settings);

// Tokens of one optimizer step of a probed candidate: batch x accumulation x ranks x seq_len.
int64_t probe_tokens_per_step(const ThroughputProbe& probe);

// What the plan must fit besides the training steps.
struct BudgetInputs {
  double seconds = 0;           // for training, validation and checkpoints
  std::optional<double> unique_tokens;  // one epoch of training data; unset: assume it never repeats
  std::optional<int64_t> fixed_steps;   // --max-steps
  int64_t eval_every = 500;
  int64_t eval_batches = 0;  // 0: no validation
  int64_t save_every = 1000;
  double checkpoint_bytes_per_second = 200e6;  // writing weights and AdamW moments
};

struct BudgetOption {
  size_t candidate = 0;  // index into the probes
  int64_t steps = 0;
  double tokens = 0;
  double epochs = 0;  // tokens over the unique tokens (0 when unknown)
  double expected_loss = 0;
  double expected_seconds = 0;  // training, validation and checkpoints
  double end_seconds = 0;       // of those, the final validation and checkpoints
  bool fits = false;
  std::string why_not;  // when it does not fit
};

// Every probe's best use of the budget, in the probes' order.
std::vector<BudgetOption> budget_options(const std::vector<ThroughputProbe>& probes, const BudgetInputs& inputs);

// The option with the lowest expected loss among those that fit; nullopt when none does.
std::optional<BudgetOption> best_budget_option(const std::vector<BudgetOption>& options);

// The whole plan of a --time-budget run, made before step 1.
struct BudgetPlan {
  ModelConfig model;
  int64_t batch_size = 1;    // the chosen candidate's: the run's unless --batch-size auto
  int64_t accumulation = 1;
  int64_t steps = 0;
  int64_t warmup_steps = 0;  // --warmup-steps, shortened to a tenth of the steps unless given
  double budget_seconds = 0;
  double probe_seconds = 0;
  double expected_seconds = 0;  // of training, validation and checkpoints
  double end_reserve_seconds = 0;  // kept free after the last step (the trainer's deadline check)
  std::chrono::steady_clock::time_point deadline;  // the run's start + the budget
  std::vector<ThroughputProbe> probes;
  std::vector<BudgetOption> options;
  BudgetOption chosen;
};

struct BudgetRequest {
  const TrainConfig* config = nullptr;
  ModelConfig base;             // the planned model with the tokenizer's vocabulary
  bool model_fixed = false;     // a preset, dimensions, --target-params, --init-from, LoRA
  std::optional<double> unique_tokens;
  BackendChoice backend;
  FreeMemory memory;  // the device's: caps the sizes probed, and sizes each one's batch with --batch-size auto
  std::chrono::steady_clock::time_point run_start;
  // A data-parallel job (every rank calls plan_time_budget): the ranks probe together, and each
  // decision follows rank 0's clock, so that all make the same plan. Null: one process.
  Communicator* ranks = nullptr;
  // Ranks the run trains on: `ranks`' count, or a dry run's preview of several ranks from one
  // process (one rank's speed, without the gradient sum, stands for each).
  int64_t world = 1;
};

// True when the configuration decides the model itself (a budget then plans tokens only).
bool budget_model_fixed(const TrainConfig& config);

// Probes, chooses and prints the plan: the model, the steps and, with --batch-size auto, the
// batch (each candidate's largest that fits `memory`, as --batch-size auto chooses for one
// model). Throws UserError when no candidate fits the time left.
BudgetPlan plan_time_budget(const BudgetRequest& request);

// The plan's lines (also the dry run's).
void print_budget_plan(const BudgetPlan& plan, const TrainConfig& config);

// Warmup of a budget run of `steps`: --warmup-steps when given, else at most a tenth of the steps.
int64_t budget_warmup_steps(const TrainConfig& config, int64_t steps);

// Steps that hold at most kMaxBudgetEpochs of `unique_tokens`: how far a run that is faster than
// its probe may extend its plan.
int64_t budget_step_limit(int64_t tokens_per_step, double unique_tokens);

// For training_summary.json: the budget, the probes, the choice, and how the run kept to it.
nlohmann::json budget_summary(const BudgetPlan& plan, double used_seconds, int64_t steps, bool deadline_reached);

}  // namespace utt
