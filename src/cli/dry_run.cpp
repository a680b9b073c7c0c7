// `utt train --dry-run`: everything the run would do, resolved and printed, nothing done.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "cli/run_plan.h"
#include "cli/train_flags.h"
#include "config/memory_estimate.h"
#include "export/init_source.h"
#include "train/lr_schedule.h"
#include "train/time_budget.h"
#include "util/text.h"

namespace utt {
namespace {

// A new --time-budget run without a model fixed by flags: the plan (print_time_budget) sizes it.
bool sized_by_budget(const RunPlan& plan) {
  return plan.config.time_budget && !plan.resume && !budget_model_fixed(plan.config);
}

// A new --time-budget run with --batch-size auto: the plan chooses the batch with the size
// (resolve_auto_batch left it unset).
bool batch_by_budget(const RunPlan& plan) { return plan.parallel.batch_per_device == 0; }

void print_model(const RunPlan& plan) {
  const ModelConfig& m = plan.model.config;
  const ParameterCount count = count_parameters(m);
  if (sized_by_budget(plan)) {
    fmt::print("Model: sized by --time-budget from this machine's measured speed (the plan below)\n");
    fmt::print("  Architecture: {}\n", describe_architecture(m));
    fmt::print("  seq_len {}, vocab {}\n", m.seq_len, with_thousands(m.vocab_size));
    return;
  }
  fmt::print("Model: {}\n", plan.model.source);
  fmt::print("  Architecture: {}\n", describe_architecture(m));
  fmt::print("  d_model {}, layers {}, heads {} (head size {}), kv heads {}, d_ff {}, seq_len {}, "
             "vocab {}\n",
             m.d_model, m.num_layers, m.num_heads, m.head_dim(), m.num_kv_heads, m.d_ff,
             m.seq_len, with_thousands(m.vocab_size));
  if (plan.resume) {
    fmt::print("  Vocabulary: the checkpoint's tokenizer ({} tokens)\n", with_thousands(m.vocab_size));
  } else if (plan.config.auto_vocab_size) {
    fmt::print("  Vocabulary: chosen from the data within [{}, {}] when the tokenizer is trained; "
               "counted here at {}\n",
               plan.config.min_vocab_size, plan.config.max_vocab_size,
               plan.config.target_params
                   ? fmt::format("the smallest, {} (the budget is re-solved for the vocabulary chosen)",
                                 m.vocab_size)
                   : fmt::format("--vocab-size {}", m.vocab_size));
  }
  if (plan.config.use_lora) {
    const LoraSettings lora = lora_settings(plan.config, m);
    fmt::print("  LoRA: rank {}, alpha {}, dropout {}, targets {} ({} adapter parameters; the base is frozen){}\n",
               lora.rank, lora.alpha, lora.dropout, lora_targets_text(lora.targets),
               with_thousands(LoraLayout(m, lora).total()),
               plan.config.init_from ? ""
                                     : "\n  \u26a0 a real run needs --init-from DIR: the base model the adapters fine-tune");
  }
  fmt::print("Parameters: {}\n", with_thousands(count.total));
  fmt::print("  embedding {}, non-embedding {}, per layer {} ({})\n",
             with_thousands(count.embedding), with_thousands(count.non_embedding),
             with_thousands(count.per_layer), human_count(count.total));
}

void print_memory(const RunPlan& plan) {
  const TrainConfig& c = plan.config;
  if (sized_by_budget(plan) || batch_by_budget(plan)) {
    fmt::print("\nTraining memory: estimated for each size the time budget measures (below); a size whose "
               "estimate{} exceeds {:.0f}% of {}'s {} free is not tried\n",
               c.batch_size_auto ? " with one row" : "", 100 * kAutoBatchMemoryShare, plan.memory.source,
               human_bytes(plan.memory.bytes));
    return;
  }
  const TrainingMemory memory =
      estimate_training_memory(plan.model.config, c.batch_size, c.use_mixed_precision, c.activation_checkpointing);
  fmt::print("\nTraining memory (estimate; batch {} x seq_len {}, {}):\n", c.batch_size,
             plan.model.config.seq_len,
             c.use_mixed_precision                           ? "fp32 activations, bf16 matmul operands"
             : c.tf32 && plan.device.kind == BackendKind::kCuda ? "fp32, TF32 matmul operands (--tf32)"
                                                              : "fp32");
  fmt::print("  weights      {:>12}\n", human_bytes(memory.weights_bytes));
  fmt::print("  gradients    {:>12}\n", human_bytes(memory.gradients_bytes));
  fmt::print("  optimizer    {:>12}   (AdamW moments)\n", human_bytes(memory.optimizer_bytes));
  fmt::print("  activations  {:>12}   (one micro-batch{})\n", human_bytes(memory.activations_bytes),
             c.activation_checkpointing ? "; each layer's input kept, --activation-checkpointing" : "");
  fmt::print("  total        {:>12}\n", human_bytes(memory.total_bytes()));
}

void print_schedule(const RunPlan& plan) {
  const TrainConfig& c = plan.config;
  const int64_t ranks = plan.parallel.ranks;
  const int64_t tokens_per_step = c.batch_size * c.gradient_accumulation_steps * ranks * plan.model.config.seq_len;
  fmt::print("\nLearning-rate schedule: linear warmup over {} steps to {}, then cosine decay to {} "
             "(10% of peak)\n",
             c.warmup_steps, c.learning_rate, c.learning_rate * 0.1);
  if (batch_by_budget(plan)) {
    fmt::print("  tokens per optimizer step: --batch-size auto's for the size --time-budget chooses (below)\n");
  } else {
    fmt::print("  {} tokens per optimizer step (batch {} x accumulation {}{} x seq_len {})\n",
               with_thousands(tokens_per_step), c.batch_size, c.gradient_accumulation_steps,
               ranks > 1 ? fmt::format(" x {} ranks", ranks) : "", plan.model.config.seq_len);
  }
  if (c.time_budget) {
    fmt::print("  total steps{}: chosen by --time-budget (below), and the warmup shortened to a tenth of them "
               "unless --warmup-steps is given\n", c.max_steps ? " (--max-steps)" : "");
    return;
  }
  if (!c.max_steps) {
    fmt::print("  total steps: {} of the training data, counted when the data is read "
               "(--max-steps N fixes it)\n",
               count_of(c.epochs, "epoch"));
    return;
  }
  const LrSchedule schedule{c.learning_rate, c.warmup_steps, *c.max_steps, 0.1};
  fmt::print("  total steps: {} (--max-steps)\n", with_thousands(*c.max_steps));
  const int64_t last = *c.max_steps - 1;
  const int64_t steps[] = {0, std::max<int64_t>(0, c.warmup_steps - 1),
                           c.warmup_steps + (last - c.warmup_steps) / 4,
                           c.warmup_steps + (last - c.warmup_steps) / 2,
                           c.warmup_steps + 3 * (last - c.warmup_steps) / 4, last};
  fmt::print("  step:");
  for (int64_t step : steps) fmt::print(" {:>10}", step + 1);
  fmt::print("\n  lr:  ");
  for (int64_t step : steps) fmt::print(" {:>10.3e}", learning_rate_at(schedule, step));
  fmt::print("\n");
}

// --time-budget: the probe and the plan, measured now on this machine with the configured
// vocabulary; the run measures again once its tokenizer and token count are known.
void print_time_budget(const RunPlan& plan) {
  const TrainConfig& c = plan.config;
  if (!c.time_budget) return;
  fmt::print("\n");
  if (plan.resume) {
    fmt::print("Time budget: {}: the checkpoint's plan continues, stopping at the budget at the latest\n",
               *c.time_budget);
    return;
  }
  BudgetRequest request;
  request.config = &c;
  request.base = plan.model.config;
  request.model_fixed = budget_model_fixed(c);
  request.backend = {.kind = plan.device.kind, .threads = static_cast<int>(plan.parallel.threads_per_rank),
                     .mixed_precision = c.use_mixed_precision};
  request.memory = plan.memory;
  request.world = plan.parallel.ranks;
  request.run_start = std::chrono::steady_clock::now();
  const BudgetPlan budget = plan_time_budget(request);
  print_budget_plan(budget, c);
  fmt::print("  (a preview: measured now with vocabulary {}{} and as if the data never repeated; the run measures "
             "again once its tokenizer and token count are known{})\n",
             with_thousands(plan.model.config.vocab_size),
             plan.parallel.ranks > 1 ? ", one rank's steps standing for each rank's" : "",
             plan.parallel.ranks > 1 ? ", with every rank and the sum of their gradients" : "");
}

// What the run will do with --output-dir and --resume-from (their checks have passed: a
// conflict ends the dry run as it would end the run).
void print_output(const RunPlan& plan) {
  const OutputDirState& output = plan.output;
  std::string state = !output.exists                 ? "new"
                      : output.earlier_outputs.empty() ? "exists, no earlier run's outputs"
                                                       : "holds an earlier run's outputs";
  if (!output.earlier_outputs.empty() && plan.config.overwrite_output_dir && !plan.resume) {
    state += "; --overwrite-output-dir removes them first";
  }
  fmt::print("Output: {} ({})\n", plan.config.output_dir, state);
  if (output.busy) {
    fmt::print("  in use by {}: a run started now is refused until it ends\n", output.busy->describe());
  }
  if (plan.resume) {
    const TrainerState& state_at = plan.resume->state;
    fmt::print("  Resume: from {} at step {} (its schedule: {} steps{})\n", plan.resume->dir.string(),
               state_at.step, state_at.total_steps,
               state_at.run_id.empty() ? "" : "; run " + state_at.run_id);
  }
  if (!plan.cloud_resume.empty()) {
    fmt::print("  Resume: from {} (downloaded, its checksums verified and checked like a local checkpoint when the "
               "run starts)\n",
               plan.cloud_resume);
  }
  if (!plan.cloud_target.empty()) {
    fmt::print("Cloud: every checkpoint uploaded to {}/ in the background{}\n", plan.cloud_target,
               plan.config.keep_last > 0 ? fmt::format(", the newest {} step checkpoints kept there", plan.config.keep_last)
                                         : std::string());
    if (!plan.cloud_problem.empty()) fmt::print("  A real run stops here now: {}\n", plan.cloud_problem);
  }
  fmt::print("\n");
}

// Who starts the ranks, and what each one trains.
void print_launch(const DataParallelPlan& parallel) {
  if (parallel.ranks == 1) return;
  const std::string each = fmt::format("{} each, {}", count_of(parallel.threads_per_rank, "thread"),
                                       parallel.batch_per_device == 0
                                           ? std::string("the batch per rank chosen by --time-budget")
                                           : fmt::format("batch {} per rank", parallel.batch_per_device));
  if (parallel.launcher == "utt") {
    fmt::print("Launch: {} worker processes on this machine, started through mpirun ({}); rank 0 logs and "
               "writes checkpoints\n",
               parallel.ranks, each);
  } else {
    fmt::print("Launch: this process is rank {} of {} ({} on this machine), started by {} ({}); rank 0 logs "
               "and writes checkpoints\n",
               parallel.rank, parallel.ranks, parallel.local_ranks, parallel.launcher, each);
  }
}

void print_configuration(const RunPlan& plan) {
  fmt::print("\nConfiguration (* = set on the command line or in --config):\n");
  TrainConfig resolved = plan.config;  // show the dimensions the preset or budget chose
  resolved.model = plan.model.config;
  for (const FlagSpec& flag : train_flags()) {
    const bool set = plan.config.was_set(flag.name);
    std::string value = flag.shown_value(resolved);
    if (flag.secret && value != "None") value = "(hidden)";
    fmt::print("  {} {:<30} {}\n", set ? '*' : ' ', flag.spelling(), value);
  }
}

}  // namespace

void print_dry_run(const RunPlan& plan) {
  fmt::print("Dry run: the configuration is resolved and checked; nothing is trained or written.\n\n");
  fmt::print("Backend: {}\nDevices: {}\n", plan.device.backend, plan.device.devices);
  if (const std::string lines = data_parallel_banner(plan.parallel, plan.device.backend); !lines.empty()) {
    fmt::print("{}\n", lines);
  }
  fmt::print("{}\n", plan.device.note);
  print_launch(plan.parallel);
  if (!plan.batch_note.empty()) fmt::print("{}\n", plan.batch_note);
  fmt::print("\n");
  const TrainConfig& c = plan.config;
  fmt::print("Dataset: {}\n", plan.dataset);
  fmt::print("  text column '{}', split '{}', validation {}\n", c.text_column, c.split,
             c.val_split ? "split '" + *c.val_split + "'" : std::string("none"));
  print_output(plan);
  print_model(plan);
  print_memory(plan);
  print_schedule(plan);
  print_time_budget(plan);
  print_configuration(plan);
  std::fflush(stdout);
}

}  // namespace utt
