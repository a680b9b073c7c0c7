#include "train/training_run.h"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>

#include "backend/cpu/cpu_backend.h"
#include "config/config_json.h"
#include "config/sizing.h"
#include "train/lr_schedule.h"
#include "data/dataset_files.h"
#include "data/cached_loader.h"
#include "data/streaming_loader.h"
#include "data/token_cache.h"
#include "data/token_pipeline.h"
#include "data/window_packer.h"
#include "io/staged_dir.h"
#include "model/transformer.h"
#include "obs/console_log.h"
#include "obs/metrics_log.h"
#include "train/checkpoint.h"
#include "train/checkpoint_dirs.h"
#include "train/output_dir.h"
#include "train/run_summary.h"
#include "train/stop_signal.h"
#include "train/tokenizer_encoder.h"
#include "train/tokenizer_setup.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

struct DataPlan {
  std::vector<std::string> train_files;
  std::vector<std::string> val_files;  // empty: validation comes from the held-out share, if any
};

DataPlan plan_data(const TrainConfig& c) {
  DataPlan plan;
  plan.train_files = resolve_dataset_split(c.dataset_id, c.dataset_config, c.split);
  if (c.val_split) plan.val_files = resolve_dataset_split(c.dataset_id, c.dataset_config, *c.val_split);
  return plan;
}

// Tokenizer worker threads of the data stage: --threads, or one per core of this 2-core default.
int data_workers(const TrainConfig& c) {
  return c.threads > 0 ? static_cast<int>(c.threads) : 2;
}

DocumentSelection train_selection(const TrainConfig& c) {
  DocumentSelection selection;
  if (!c.val_split && c.val_fraction > 0) {
    selection.hold_out = HoldOut::keep_train;
    selection.val_fraction = c.val_fraction;
    selection.seed = static_cast<uint64_t>(c.seed);
  }
  selection.max_documents = c.max_train_examples;
  return selection;
}

DocumentSelection validation_selection(const TrainConfig& c) {
  DocumentSelection selection;
  if (!c.val_split) {
    selection.hold_out = HoldOut::keep_validation;
    selection.val_fraction = c.val_fraction;
    selection.seed = static_cast<uint64_t>(c.seed);
  }
  selection.max_documents = c.max_val_examples;
  return selection;
}

LoaderConfig loader_config(const TrainConfig& c, const ModelConfig& m, std::vector<std::string> files,
                           DocumentSelection selection, bool shuffle, int64_t epochs) {
  LoaderConfig config;
  config.files = std::move(files);
  config.text_column = c.text_column;
  config.selection = selection;
  config.batch_size = c.batch_size;
  config.seq_len = m.seq_len;
  config.stride = c.stride.value_or(m.seq_len);
  config.shuffle_buffer_size = shuffle ? static_cast<size_t>(c.shuffle_buffer_size) : 0;
  config.seed = static_cast<uint64_t>(c.seed);
  config.epochs = epochs;
  config.worker_threads = data_workers(c);
  return config;
}

// Tokens in one epoch of the training stream (end-of-text separators included): one pass of
// tokenization, so the schedule is known before step 1 and ends where the data ends.
int64_t count_epoch_tokens(const TrainConfig& c, const std::vector<std::string>& files,
                           const TokenEncoder& encoder) {
  TokenPipelineConfig config;
  config.files = files;
  config.text_column = c.text_column;
  config.selection = train_selection(c);
  config.worker_threads = data_workers(c);
  TokenPipeline pipeline(config, encoder);
  std::vector<uint32_t> tokens;
  int64_t total = 0;
  int64_t documents = 0;
  while (pipeline.next(tokens)) {
    total += static_cast<int64_t>(tokens.size()) + 1;
    ++documents;
  }
  if (documents == 0) {
    throw UserError("the training split of " + c.dataset_id + " has no documents with text in column '" +
                    c.text_column + "': check --dataset-id, --split and --text-column");
  }
  return total;
}

std::vector<std::vector<int32_t>> validation_batches(const TrainConfig& c, const ModelConfig& m,
                                                     const DataPlan& data, const TokenEncoder& encoder) {
  std::vector<std::vector<int32_t>> batches;
  const bool held_out = !c.val_split && c.val_fraction > 0;
  if (data.val_files.empty() && !held_out) return batches;
  const std::vector<std::string>& files = data.val_files.empty() ? data.train_files : data.val_files;
  StreamingLoader loader(loader_config(c, m, files, validation_selection(c), false, 1), encoder);
  std::vector<uint32_t> raw;
  while (static_cast<int64_t>(batches.size()) < c.eval_batches && loader.next_batch(raw)) {
    batches.emplace_back(raw.begin(), raw.end());
  }
  if (batches.empty()) {
    fmt::print("Validation: skipped: the validation data holds less than one batch of {} x {} tokens\n",
               c.batch_size, m.seq_len + 1);
  }
  return batches;
}

// Token caches are shared by every run on this machine: $UTT_CACHE_DIR, else
// $XDG_CACHE_HOME/utt/tokens, else ~/.cache/utt/tokens.
std::string token_cache_dir() {
  if (const char* dir = std::getenv("UTT_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/utt/tokens";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/utt/tokens";
  return ".utt-cache/tokens";
}


// True when `path` is a tokenizer.json of `tokenizer` (a damaged or foreign file is not).
bool holds_tokenizer(const fs::path& path, const Tokenizer& tokenizer) {
  std::error_code error;
  if (!fs::exists(path, error)) return false;
  try {
    return Tokenizer::load(path.string()).fingerprint() == tokenizer.fingerprint();
  } catch (const UserError&) {
    return false;
  }
}

TokenizerInputs tokenizer_inputs(const TrainConfig& c, const DataPlan& data, const ResumePoint* resume) {
  TokenizerInputs inputs;
  inputs.train_files = data.train_files;
  inputs.training = train_selection(c);
  const bool held_out = !c.val_split && c.val_fraction > 0;
  if (!data.val_files.empty() || held_out) {
    inputs.validation_files = data.val_files.empty() ? data.train_files : data.val_files;
    inputs.validation = validation_selection(c);
  }
  if (resume) inputs.resume_checkpoint = resume->dir;
  return inputs;
}

// The model's vocabulary is the tokenizer's; a parameter budget is re-solved for it.
ModelConfig size_model(const TrainConfig& c, const ModelConfig& planned, const Tokenizer& tokenizer) {
  ModelConfig model_config = planned;
  model_config.vocab_size = tokenizer.vocab_size();
  if (c.target_params && model_config.vocab_size != planned.vocab_size) {
    ModelConfig base = model_config;
    if (!c.was_set("num-kv-heads")) base.num_kv_heads = 0;
    model_config = size_for_target_params(*c.target_params, c.prefer_depth, base);
  }
  return model_config;
}

struct StepPlan {
  int64_t total_steps = 0;
  EpochCount epochs;
  std::unique_ptr<TokenCache> cache;  // with --no-use-streaming
};

// The token stream of one epoch is counted before step 1, so the schedule ends where the
// data ends: from the token cache (--no-use-streaming), or by one tokenizing pass.
StepPlan plan_steps(const TrainConfig& c, const ModelConfig& model_config, const DataPlan& data,
                    const TokenEncoder& encoder) {
  StepPlan plan;
  const auto count_start = std::chrono::steady_clock::now();
  std::unique_ptr<TokenCache>& cache = plan.cache;
  int64_t epoch_tokens = 0;
  if (!c.use_streaming) {
    TokenCacheSource source{data.train_files, c.split, c.text_column, train_selection(c)};
    const std::string path = token_cache_path(token_cache_dir(), source, encoder);
    const bool built = build_token_cache(path, source, encoder, data_workers(c));
    cache = std::make_unique<TokenCache>(path);
    fmt::print("Token cache: {} {} ({} documents, {} tokens)\n", built ? "built" : "reusing", path,
               with_thousands(cache->num_documents()), with_thousands(cache->num_tokens()));
    epoch_tokens = cache->num_tokens() + cache->num_documents();  // plus one end-of-text each
  } else {
    epoch_tokens = count_epoch_tokens(c, data.train_files, encoder);
  }
  const int64_t stride = c.stride.value_or(model_config.seq_len);
  const int64_t data_steps = count_optimizer_steps(epoch_tokens, c.batch_size, model_config.seq_len,
                                                   stride, c.gradient_accumulation_steps, c.epochs);
  // One epoch's full batches, for training_summary.json's epochs_completed.
  const int64_t batches_per_epoch = count_optimizer_steps(epoch_tokens, c.batch_size, model_config.seq_len,
                                                          stride, 1, 1);
  if (data_steps <= 0) {
    throw UserError(fmt::format("the training data ({} tokens per epoch) does not fill one optimizer step of "
                                "{} x {} x {} tokens: lower --batch-size, --seq-len or "
                                "--gradient-accumulation-steps, or use more data",
                                with_thousands(epoch_tokens), c.batch_size, c.gradient_accumulation_steps,
                                model_config.seq_len + 1));
  }
  const int64_t total_steps = c.max_steps ? std::min(*c.max_steps, data_steps) : data_steps;
  fmt::print("Training data: {} tokens per epoch (counted in {:.1f}s); {} optimizer steps{}\n",
             with_thousands(epoch_tokens),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - count_start).count(),
             with_thousands(total_steps),
             c.max_steps && *c.max_steps < data_steps
                 ? fmt::format(" (--max-steps; {} would take {})", count_of(c.epochs, "epoch"),
                               with_thousands(data_steps))
                 : fmt::format(" ({})", count_of(c.epochs, "epoch")));
  plan.total_steps = total_steps;
  plan.epochs = {c.epochs, data_steps, batches_per_epoch, c.gradient_accumulation_steps};
  return plan;
}

// The state the loop starts from: a new run's, or the checkpoint's with the schedule of this
// run. A resume with another length (a larger --max-steps or --epochs) continues the decay
// from where it stands, and says so; an unchanged configuration continues exactly.
TrainerState starting_state(const TrainConfig& c, const ResumePoint* resume, int64_t total_steps,
                            const Tokenizer& tokenizer) {
  if (!resume) {
    TrainerState state;
    state.run_id = new_run_id();
    state.total_steps = total_steps;
    state.tokenizer_fingerprint = tokenizer.fingerprint();
    return state;
  }
  TrainerState state = resume->state;
  if (state.run_id.empty()) state.run_id = new_run_id();  // a checkpoint from before run ids
  if (total_steps < state.step) {
    throw UserError(fmt::format("cannot resume from {}: it is at step {}, past the {} steps of this run "
                                "(--max-steps, --epochs): raise them to continue it",
                                resume->dir.string(), state.step, total_steps));
  }
  fmt::print("Resuming from {} at step {} of {}\n", resume->dir.string(), state.step, total_steps);
  if (total_steps == state.total_steps) return state;
  const LrSchedule current{c.learning_rate, c.warmup_steps, state.total_steps, 0.1, state.lr_restart_step,
                           state.lr_restart_value};
  const LrSchedule next = replan_schedule(current, state.step, total_steps);
  const double floor = c.learning_rate * next.floor_fraction;
  if (next.restart_step > 0 && next.restart_lr <= floor * (1 + 1e-12)) {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; its decay had ended, so the learning rate "
               "stays at the floor, {:.3e}, to step {}\n",
               total_steps, state.total_steps, floor, total_steps);
  } else if (next.restart_step == 0) {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; warmup continues, then the cosine decay "
               "reaches {:.3e} at step {}\n",
               total_steps, state.total_steps, floor, total_steps);
  } else {
    fmt::print("Schedule: {} steps instead of the checkpoint's {}; re-planned from the resume point: the "
               "learning rate falls from {:.3e} at step {} along a new cosine to {:.3e} at step {}\n",
               total_steps, state.total_steps, next.restart_lr, state.step + 1, floor, total_steps);
  }
  state.total_steps = total_steps;
  state.lr_restart_step = next.restart_step;
  state.lr_restart_value = next.restart_lr;
  return state;
}

}  // namespace

int run_training(const TrainingRunInputs& in) {
  const TrainConfig& c = in.config;
  const fs::path output_dir = c.output_dir;
  fmt::print("{}\n", in.device_banner);
  fmt::print("Precision: {}\n", c.use_mixed_precision
                                   ? "bf16 matmuls with fp32 accumulation (--use-mixed-precision); "
                                     "fp32 weights, optimizer, norms, attention and loss"
                                   : "fp32");

  const DataPlan data = plan_data(c);
  fmt::print("Dataset: {} ({} training file{}{})\n", c.dataset_id, data.train_files.size(),
             data.train_files.size() == 1 ? "" : "s",
             data.val_files.empty() ? "" : fmt::format(", {} validation", data.val_files.size()));

  // 1. The output directory and the checkpoint to resume from, looked at without writing.
  const OutputDirState output = inspect_output_dir(output_dir);
  refuse_if_busy(output);
  const std::optional<ResumePoint> resume_point = find_resume_point(c, output);
  const ResumePoint* resume = resume_point ? &*resume_point : nullptr;
  check_output_dir(c, output, resume);

  // 2. Everything else, in memory: tokenizer, model size, schedule, validation set, model,
  // optimizer and loader. Each can still refuse the run, and nothing is written yet.
  const PreparedTokenizer prepared = prepare_tokenizer(c, in.model, tokenizer_inputs(c, data, resume));
  const Tokenizer& tokenizer = prepared.tokenizer;
  const TokenizerEncoder encoder(tokenizer);
  const ModelConfig model_config = size_model(c, in.model, tokenizer);
  if (resume) {
    const std::string differences = model_config_differences(resume->model, model_config);
    if (!differences.empty()) {
      throw UserError("cannot resume from " + resume->dir.string() + ": its model differs from this run's (" +
                      differences + "); use the flags the checkpoint was trained with");
    }
  }
  const ParameterCount count = count_parameters(model_config);
  fmt::print("Model: {}, d_model {}, {}, d_ff {}, vocab {} ({})\nParameters: {}\n",
             count_of(model_config.num_layers, "layer"), model_config.d_model,
             count_of(model_config.num_heads, "head"), model_config.d_ff,
             with_thousands(model_config.vocab_size), describe_architecture(model_config),
             with_thousands(count.total));

  StepPlan steps = plan_steps(c, model_config, data, encoder);
  TrainerState state = starting_state(c, resume, steps.total_steps, tokenizer);

  const std::vector<std::vector<int32_t>> val_batches = validation_batches(c, model_config, data, encoder);
  if (!val_batches.empty()) {
    fmt::print("Validation: {} batches every {} steps\n", val_batches.size(), c.eval_every);
  }

  CpuBackendOptions backend_options;
  backend_options.threads = static_cast<int>(c.threads);
  backend_options.bf16_matmuls = c.use_mixed_precision;
  const std::unique_ptr<Backend> backend = make_cpu_backend(backend_options);
  Transformer model(model_config, *backend, c.batch_size);
  AdamWSettings settings;
  settings.weight_decay = c.weight_decay;
  AdamW optimizer(*backend, model.layout().optimizer_segments(), model.parameter_count(), settings);

  std::optional<LoaderState> loader_resume;
  if (resume) {
    load_checkpoint(resume->dir, model, optimizer, tokenizer.fingerprint());
    loader_resume = LoaderState::from_json(state.loader_state);
  } else {
    model.initialize(static_cast<uint64_t>(c.seed));
  }

  const LoaderConfig train_loader_config =
      loader_config(c, model_config, data.train_files, train_selection(c), true, c.epochs);
  std::unique_ptr<BatchLoader> train_batches;
  if (steps.cache) {
    train_batches = std::make_unique<CachedLoader>(train_loader_config, *steps.cache, encoder, loader_resume);
  } else {
    train_batches = std::make_unique<StreamingLoader>(train_loader_config, encoder, loader_resume);
  }

  // 3. The first writes: the output directory, locked and checked again, with the run's files.
  RunDirectory directory(c, resume, state.run_id);
  const fs::path saved_tokenizer = output_dir / "tokenizer.json";
  if (prepared.source != TokenizerSource::kReused && !holds_tokenizer(saved_tokenizer, tokenizer)) {
    directory.write_file("tokenizer.json", tokenizer.to_json());
    fmt::print("Tokenizer: saved to {}\n", saved_tokenizer.string());
  }
  directory.write_file("model_config.json", model_config_to_json(model_config).dump(2) + "\n");
  if (resume) {
    const int64_t dropped = drop_metrics_after(output_dir / "metrics.jsonl", state.step);
    if (dropped > 0) {
      fmt::print("metrics.jsonl: dropped {} {} logged after step {} (this run logs those steps again)\n",
                 dropped, dropped == 1 ? "entry" : "entries", state.step);
    }
  }
  MetricsLog metrics(output_dir / "metrics.jsonl");
  directory.started();

  TrainerOptions options;
  options.batch_size = c.batch_size;
  options.accumulation = c.gradient_accumulation_steps;
  options.learning_rate = c.learning_rate;
  options.warmup_steps = c.warmup_steps;
  options.grad_clip = c.grad_clip;
  options.log_every = c.log_every;
  options.save_every = c.save_every;
  options.eval_every = c.eval_every;
  options.keep_last = c.keep_last;
  options.seed = static_cast<uint64_t>(c.seed);
  options.output_dir = output_dir;
  options.tokenizer_json = tokenizer.to_json();
  options.resume_command = in.resume_command;
  fmt::print("\n");
  std::fflush(stdout);

  Trainer trainer(model, optimizer, *train_batches, &val_batches, metrics, options);
  const TrainingResult result = trainer.run(state);
  const RunOutputs outputs{output_dir, in.configuration, model_config, steps.epochs};
  write_summary(outputs, result);
  print_closing_lines(outputs, result);
  if (result.outcome == TrainingOutcome::kInterrupted) {
    return std::string(stop_signal_name()) == "SIGTERM" ? 128 + SIGTERM : 128 + SIGINT;
  }
  return 0;
}

}  // namespace utt
