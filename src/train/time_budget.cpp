#include "train/time_budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "config/batch_size.h"
#include "config/duration.h"
#include "config/flop_count.h"
#include "config/memory_estimate.h"
#include "config/sizing.h"
#include "model/transformer.h"
#include "obs/console_log.h"
#include "train/adamw.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

using Clock = std::chrono::steady_clock;

// Hoffmann et al. 2022, approach 3 (their equation 10 with the fitted constants).
constexpr double kE = 1.69;
constexpr double kA = 406.4;
constexpr double kB = 410.7;
constexpr double kAlpha = 0.34;
constexpr double kBeta = 0.28;
// Muennighoff et al. 2023: the decay constant of repeated data's value, R*_D.
constexpr double kRepeatDecay = 15.4;

// Share of the budget the probe may spend, and never less than this many seconds.
constexpr double kProbeShare = 0.1;
constexpr double kMinProbeSeconds = 5;
constexpr int kMaxCandidates = 14;
// A probe times steps for at least this long (and at most kMaxProbeSteps of them).
constexpr double kProbeStepSeconds = 0.3;
constexpr size_t kMaxProbeSteps = 20;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool several(const Communicator* ranks) { return ranks != nullptr && ranks->world_size() > 1; }

// Rank 0's `value`, on every rank of `ranks` (this process's own without several ranks): what
// each rank decides from a clock must be decided alike.
double rank0_value(Communicator* ranks, double value) {
  if (several(ranks)) ranks->broadcast(&value, sizeof value, 0);
  return value;
}

// The largest of every rank's `value`.
double slowest_rank_value(Communicator* ranks, double value) {
  if (!several(ranks)) return value;
  const std::vector<double> all = values_of_every_rank(*ranks, value);
  return *std::max_element(all.begin(), all.end());
}

// What a checkpoint writes: the fp32 weights and AdamW's two moments.
double checkpoint_bytes(const ModelConfig& m) {
  const TrainingMemory memory = estimate_training_memory(m, 1, false);
  return memory.weights_bytes + memory.optimizer_bytes;
}

std::string describe_model(const ModelConfig& m) {
  return fmt::format("{} params (d_model {}, {}, {}, d_ff {})", human_count(count_parameters(m).total),
                     m.d_model, count_of(m.num_layers, "layer"), count_of(m.num_heads, "head"), m.d_ff);
}

}  // namespace

double scaling_parameters(const ModelConfig& m) {
  return static_cast<double>(training_flops(m).matmul_parameters);
}

double effective_tokens(double tokens, double unique_tokens) {
  if (unique_tokens <= 0 || tokens <= unique_tokens) return tokens;
  const double repetitions = tokens / unique_tokens - 1;
  return unique_tokens + unique_tokens * kRepeatDecay * (1 - std::exp(-repetitions / kRepeatDecay));
}

double expected_loss(double parameters, double effective) {
  return kE + kA / std::pow(std::max(parameters, 1.0), kAlpha) + kB / std::pow(std::max(effective, 1.0), kBeta);
}

std::vector<ModelConfig> budget_candidates(const ModelConfig& base, bool prefer_depth) {
  std::vector<ModelConfig> candidates;
  for (double target = 250e3; target < 2.5e9 && static_cast<int>(candidates.size()) < kMaxCandidates; target *= 2) {
    try {
      ModelConfig model = size_for_target_params(static_cast<int64_t>(target), prefer_depth, base);
      if (!candidates.empty() && count_parameters(model).total <= count_parameters(candidates.back()).total) continue;
      candidates.push_back(model);
    } catch (const UserError&) {
      // Too small for this vocabulary: the next size may fit.
    }
  }
  return candidates;
}

ThroughputProbe probe_throughput(const ModelConfig& model_config, const ProbeSettings& settings) {
  const auto start = Clock::now();
  ThroughputProbe probe;
  probe.model = model_config;
  probe.batch_size = settings.batch_size;
  probe.accumulation = settings.accumulation;
  probe.ranks = several(settings.ranks) ? settings.ranks->world_size() : 1;
  std::unique_ptr<Backend> backend = make_backend(settings.backend);
  Transformer model(model_config, *backend, settings.batch_size);
  model.initialize(1);
  AdamW optimizer(*backend, model.trainable_segments(), model.trainable_count(), AdamWSettings{});
  std::mt19937 random(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(model_config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(settings.batch_size * (model_config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(random);
  const auto step = [&](int64_t index) {
    model.zero_gradients();
    for (int64_t micro = 0; micro < settings.accumulation; ++micro) {
      model.forward(tokens.data(), settings.batch_size, {.training = true, .step = index, .micro_batch = micro});
      model.backward();
    }
    if (probe.ranks > 1) settings.ranks->all_reduce_sum(model.trainable_gradients(), static_cast<size_t>(model.trainable_count()));
    const GradientNorm norm = measure_grad_norm(*backend, model.trainable_gradients(), model.trainable_count(), 1.0);
    optimizer.step(model.trainable_parameters(), model.trainable_gradients(), 1e-4, static_cast<float>(norm.scale));
    backend->synchronize();
  };
  step(0);  // untimed: first touches of memory, thread pools, kernel choices
  // The median of at least `timed_steps` steps, more while they take under kProbeStepSeconds in
  // all (a busy machine makes single steps noisy).
  std::vector<double> times;
  const auto timed = Clock::now();
  while (static_cast<int>(times.size()) < settings.timed_steps ||
         (probe.ranks == 1 && seconds_since(timed) < kProbeStepSeconds && times.size() < kMaxProbeSteps)) {
    const auto step_start = Clock::now();
    step(static_cast<int64_t>(times.size()) + 1);
    times.push_back(seconds_since(step_start));
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  probe.step_seconds = slowest_rank_value(settings.ranks, times[times.size() / 2]);
  const auto forward_start = Clock::now();
  model.forward(tokens.data(), settings.batch_size, {});
  backend->synchronize();
  probe.forward_seconds = slowest_rank_value(settings.ranks, seconds_since(forward_start));
  probe.probe_seconds = seconds_since(start);
  return probe;
}

int64_t probe_tokens_per_step(const ThroughputProbe& probe) {
  return probe.batch_size * probe.accumulation * probe.ranks * probe.model.seq_len;
}

std::vector<BudgetOption> budget_options(const std::vector<ThroughputProbe>& probes, const BudgetInputs& in) {
  std::vector<BudgetOption> options;
  for (size_t i = 0; i < probes.size(); ++i) {
    const ThroughputProbe& probe = probes[i];
    const double tokens_per_step = static_cast<double>(probe_tokens_per_step(probe));
    BudgetOption option;
    option.candidate = i;
    const double eval_seconds = static_cast<double>(in.eval_batches) * probe.forward_seconds;
    const double save_seconds = 0.05 + checkpoint_bytes(probe.model) / in.checkpoint_bytes_per_second;
    // Each step, and its share of the validations and checkpoints (a best checkpoint may follow
    // every validation); once: the final validation, final and best checkpoints.
    const double per_step = probe.step_seconds + (eval_seconds + (in.eval_batches > 0 ? save_seconds : 0)) /
                                                     static_cast<double>(in.eval_every) +
                            save_seconds / static_cast<double>(in.save_every);
    const double once = eval_seconds + 2 * save_seconds;
    int64_t steps = 0;
    if (in.fixed_steps) {
      steps = *in.fixed_steps;
    } else {
      steps = static_cast<int64_t>(std::floor((in.seconds - once) / per_step));
      if (in.unique_tokens) {
        steps = std::min(steps, static_cast<int64_t>(kMaxBudgetEpochs * *in.unique_tokens / tokens_per_step));
      }
    }
    option.steps = std::max<int64_t>(steps, 0);
    option.tokens = static_cast<double>(option.steps) * tokens_per_step;
    option.epochs = in.unique_tokens ? option.tokens / *in.unique_tokens : 0;
    option.expected_seconds = once + per_step * static_cast<double>(option.steps);
    option.end_seconds = once;
    option.expected_loss =
        expected_loss(scaling_parameters(probe.model), effective_tokens(option.tokens, in.unique_tokens.value_or(0)));
    if (option.expected_seconds > in.seconds) {
      option.why_not = fmt::format("{} steps take ~{}", with_thousands(option.steps),
                                   format_duration(option.expected_seconds));
    } else if (option.steps < kMinBudgetSteps) {
      option.why_not = fmt::format("only {} steps fit", option.steps);
    } else {
      option.fits = true;
    }
    options.push_back(option);
  }
  return options;
}

std::optional<BudgetOption> best_budget_option(const std::vector<BudgetOption>& options) {
  std::optional<BudgetOption> best;
  for (const BudgetOption& option : options) {
    if (option.fits && (!best || option.expected_loss < best->expected_loss)) best = option;
  }
  return best;
}

bool budget_model_fixed(const TrainConfig& c) {
  if (c.model_preset || c.target_params || c.init_from || c.use_lora) return true;
  for (const char* flag : {"d-model", "num-layers", "num-heads", "d-ff"}) {
    if (c.was_set(flag)) return true;
  }
  return false;
}

BudgetPlan plan_time_budget(const BudgetRequest& request) {
  const TrainConfig& c = *request.config;
  BudgetPlan plan;
  plan.budget_seconds = parse_duration(*c.time_budget, "--time-budget");
  plan.deadline = request.run_start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(plan.budget_seconds));
  const std::vector<ModelConfig> candidates =
      request.model_fixed ? std::vector<ModelConfig>{request.base} : budget_candidates(request.base, c.prefer_depth);
  if (candidates.empty()) {
    throw UserError(fmt::format("--time-budget: no model size fits a vocabulary of {}: lower --vocab-size "
                                "(or --max-vocab-size)", with_thousands(request.base.vocab_size)));
  }
  BudgetInputs inputs;
  inputs.unique_tokens = request.unique_tokens;
  inputs.fixed_steps = c.max_steps;
  inputs.eval_every = c.eval_every;
  inputs.eval_batches = c.val_fraction > 0 || c.val_split ? c.eval_batches : 0;
  inputs.save_every = c.save_every;
  const double memory = request.memory.bytes * kAutoBatchMemoryShare;
  const double probe_allowance = std::max(kMinProbeSeconds, kProbeShare * plan.budget_seconds);
  Communicator* ranks = several(request.ranks) ? request.ranks : nullptr;
  const int64_t world = ranks ? ranks->world_size() : std::max<int64_t>(1, request.world);
  fmt::print("Time budget: {}; measuring how fast {} {}\n", format_duration(plan.budget_seconds),
             world > 1 ? fmt::format("the {} ranks train", world) : std::string("this machine trains"),
             request.model_fixed ? "the model" : "candidate sizes");
  std::fflush(stdout);
  const auto probe_start = Clock::now();
  for (const ModelConfig& candidate : candidates) {
    ProbeSettings settings{request.backend, c.batch_size, c.gradient_accumulation_steps};
    settings.ranks = ranks;
    if (ranks) settings.timed_steps = 5;  // a fixed count: the ranks step together
    std::string batch_note;
    if (c.batch_size_auto) {
      // The batch --batch-size auto would choose for this size; a size of which not even one
      // row fits ends the ladder (a fixed model's refusal says why).
      try {
        const BatchChoice choice = choose_batch_size(
            candidate, c.effective_batch_tokens.value_or(default_effective_batch_tokens(candidate)),
            request.memory.bytes, c.use_mixed_precision, world, request.memory.source);
        settings.batch_size = choice.micro_batch;
        settings.accumulation = choice.accumulation;
        batch_note = choice.reason;
      } catch (const UserError&) {
        if (request.model_fixed || plan.probes.empty()) throw;
        fmt::print("  {}: skipped, not one row fits in {} of memory\n", describe_model(candidate),
                   human_bytes(memory));
        break;
      }
    }
    const double need =
        estimate_training_memory(candidate, settings.batch_size, c.use_mixed_precision).total_bytes();
    if (!request.model_fixed && memory > 0 && need > memory) {
      fmt::print("  {}: skipped, needs ~{} of memory ({} available)\n", describe_model(candidate), human_bytes(need),
                 human_bytes(memory / kAutoBatchMemoryShare));
      break;
    }
    if (!plan.probes.empty() && !request.model_fixed) {
      // Predicted from the last probe by FLOPs per token: stop before a probe that would take
      // too long, or a model that could not train enough steps anyway.
      const ThroughputProbe& last = plan.probes.back();
      const double predicted_step = last.step_seconds * static_cast<double>(training_flops(candidate).per_token) /
                                    static_cast<double>(training_flops(last.model).per_token) *
                                    static_cast<double>(settings.batch_size * settings.accumulation) /
                                    static_cast<double>(last.batch_size * last.accumulation);
      const double spent = rank0_value(ranks, seconds_since(probe_start));
      const double left = rank0_value(ranks, plan.budget_seconds - seconds_since(request.run_start));
      if (spent + 5 * predicted_step > probe_allowance) break;  // one untimed, three timed, a forward
      if (predicted_step * kMinBudgetSteps > left) break;
    }
    ThroughputProbe probe = probe_throughput(candidate, settings);
    probe.ranks = world;
    probe.batch_note = batch_note;
    plan.probes.push_back(probe);
    fmt::print("  {}: {:.3f} s/step{}, {} tokens/s\n", describe_model(candidate), probe.step_seconds,
               c.batch_size_auto ? fmt::format(" ({} rows x {})", probe.batch_size, probe.accumulation) : "",
               with_thousands(static_cast<int64_t>(static_cast<double>(probe_tokens_per_step(probe)) /
                                                   probe.step_seconds)));
    std::fflush(stdout);
    if (request.model_fixed) break;
    // Past the best expected loss: larger sizes only get worse in the time left.
    inputs.seconds = rank0_value(ranks, plan.budget_seconds - seconds_since(request.run_start));
    const std::vector<BudgetOption> so_far = budget_options(plan.probes, inputs);
    if (so_far.size() >= 2 && so_far.back().fits && so_far[so_far.size() - 2].fits &&
        so_far.back().expected_loss > so_far[so_far.size() - 2].expected_loss) {
      break;
    }
  }
  plan.probe_seconds = rank0_value(ranks, seconds_since(probe_start));
  inputs.seconds = rank0_value(ranks, plan.budget_seconds - seconds_since(request.run_start));
  plan.options = budget_options(plan.probes, inputs);
  const std::optional<BudgetOption> best = best_budget_option(plan.options);
  if (!best) {
    const BudgetOption& smallest = plan.options.front();
    throw UserError(fmt::format("--time-budget {}: not even the {} model fits the {} left ({}); give a longer "
                                "budget{}, or a smaller --batch-size",
                                *c.time_budget, describe_model(plan.probes.front().model),
                                format_duration(std::max(inputs.seconds, 0.0)), smallest.why_not,
                                c.max_steps ? ", fewer --max-steps" : ""));
  }
  plan.chosen = *best;
  plan.model = plan.probes[best->candidate].model;
  plan.batch_size = plan.probes[best->candidate].batch_size;
  plan.accumulation = plan.probes[best->candidate].accumulation;
  plan.steps = best->steps;
  plan.expected_seconds = best->expected_seconds;
  plan.warmup_steps = budget_warmup_steps(c, plan.steps);
  // What the end of the run needs after the last step: the final validation and checkpoints as
  // estimated, half again for a busy disk or CPU, and a margin for the summary, the plot and
  // leaving the process.
  plan.end_reserve_seconds = 1.5 * best->end_seconds + std::min(60.0, 0.02 * plan.budget_seconds) + 0.5;
  return plan;
}

int64_t budget_warmup_steps(const TrainConfig& c, int64_t steps) {
  if (c.was_set("warmup-steps")) return c.warmup_steps;
  return std::min(c.warmup_steps, std::max<int64_t>(1, steps / 10));
}

int64_t budget_step_limit(int64_t tokens_per_step, double unique_tokens) {
  return std::max<int64_t>(1, static_cast<int64_t>(kMaxBudgetEpochs * unique_tokens /
                                                   static_cast<double>(tokens_per_step)));
}

nlohmann::json budget_summary(const BudgetPlan& plan, double used_seconds, int64_t steps, bool deadline_reached) {
  nlohmann::json probes = nlohmann::json::array();
  for (size_t i = 0; i < plan.probes.size(); ++i) {
    const ThroughputProbe& probe = plan.probes[i];
    const BudgetOption& option = plan.options[i];
    probes.push_back({{"parameters", count_parameters(probe.model).total},
                      {"d_model", probe.model.d_model},
                      {"num_layers", probe.model.num_layers},
                      {"step_seconds", probe.step_seconds},
                      {"steps_that_fit", option.steps},
                      {"expected_loss", option.expected_loss},
                      {"fits", option.fits}});
  }
  return {{"budget_seconds", plan.budget_seconds},
          {"used_seconds", used_seconds},
          {"probe_seconds", plan.probe_seconds},
          {"planned_seconds", plan.expected_seconds},
          {"planned_steps", plan.steps},
          {"steps", steps},
          {"deadline_reached", deadline_reached},
          {"planned_tokens", plan.chosen.tokens},
          {"expected_loss", plan.chosen.expected_loss},
          {"parameters", count_parameters(plan.model).total},
          {"probes", probes}};
}

void print_budget_plan(const BudgetPlan& plan, const TrainConfig& c) {
  const std::time_t finish = std::chrono::system_clock::to_time_t(
      std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                             plan.deadline - Clock::now()));
  char finish_text[32];
  std::strftime(finish_text, sizeof finish_text, "%H:%M:%S", std::localtime(&finish));
  const BudgetOption& chosen = plan.chosen;
  const ThroughputProbe& probe = plan.probes[chosen.candidate];
  fmt::print("Plan: {}, {} tokens{} in {} steps of {} (warmup {}); expected loss {:.2f} by the scaling law; "
             "~{} of training, validation and checkpoints (probe took {})\n",
             describe_model(plan.model), human_count(static_cast<int64_t>(chosen.tokens)),
             chosen.epochs > 0 ? fmt::format(" ({:.1f} epochs)", chosen.epochs) : "",
             with_thousands(plan.steps), with_thousands(probe_tokens_per_step(probe)),
             with_thousands(plan.warmup_steps), chosen.expected_loss, format_duration(plan.expected_seconds),
             format_duration(plan.probe_seconds));
  if (!probe.batch_note.empty()) fmt::print("{}\n", probe.batch_note);
  fmt::print("Time budget ends at {}; the run stops there at the latest, with its final checkpoint{}\n", finish_text,
             c.max_steps ? " (--max-steps fixes the steps)" : "");
}

}  // namespace utt
