#include "train/training_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <new>
#include <optional>
#include <variant>

#include "backend/backend_factory.h"
#include "backend/compute_peak.h"
#include "config/flop_count.h"
#include "backend/out_of_memory.h"
#include "config/config_json.h"
#include "config/duration.h"
#include "config/sizing.h"
#include "data/dataset_files.h"
#include "data/cached_loader.h"
#include "data/streaming_loader.h"
#include "data/token_cache.h"
#include "data/token_pipeline.h"
#include "data/window_packer.h"
#include "dist/rank_waits.h"
#include "export/export_formats.h"
#include "export/init_source.h"
#include "io/staged_dir.h"
#include "model/transformer.h"
#include "obs/console_log.h"
#include "obs/loss_plot.h"
#include "obs/metrics_log.h"
#include "obs/tensorboard_log.h"
#include "train/checkpoint.h"
#include "train/checkpoint_dirs.h"
#include "train/cloud_run.h"
#include "train/memory_advice.h"
#include "train/output_dir.h"
#include "train/run_state.h"
#include "train/run_summary.h"
#include "train/stop_signal.h"
#include "train/time_budget.h"
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
  config.window_shuffle_windows =
      c.window_shuffle_size.value_or(default_window_shuffle_windows(m.seq_len, c.batch_size));
  config.seed = static_cast<uint64_t>(c.seed);
  config.epochs = epochs;
  config.worker_threads = data_workers(c);
  return config;
}

struct EpochSize {
  int64_t tokens = 0;  // document separators included
  int64_t documents = 0;
};

// The data stage sees the batch of a whole step: ranks x --batch-size rows per micro-batch,
// packed and shuffled alike on every rank, which then trains its own rows (trainer.h). Step
// counts, loader states and messages about the data are therefore about the whole batch.
TrainConfig with_step_batch(const TrainConfig& c, int world) {
  TrainConfig step = c;
  step.batch_size = c.batch_size * world;
  return step;
}

// Every rank's copy of rank 0's `text`.
void broadcast_text(Communicator& ranks, std::string& text) {
  uint64_t size = text.size();
  ranks.broadcast(&size, sizeof size, 0);
  text.resize(size);
  ranks.broadcast(text.data(), size, 0);
}

// Tokens in one epoch of the training stream: one pass of tokenization, so the schedule is
// known before step 1 and ends where the data ends.
EpochSize count_epoch_tokens(const TrainConfig& c, const std::vector<std::string>& files,
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
    total += static_cast<int64_t>(tokens.size()) + encoder.framing().size();
    ++documents;
  }
  if (documents == 0) {
    throw UserError("the training split of " + c.dataset_id + " has no documents with text in column '" +
                    c.text_column + "': check --dataset-id, --split and --text-column");
  }
  return EpochSize{total, documents};
}

// What the run banner says about batches: how windows are shuffled and about how many
// documents a batch mixes (documents of equal length assumed; training_summary.json has the
// measured figure).
std::string describe_batches(const LoaderConfig& loader, const EpochSize& epoch) {
  const int64_t stride = loader.stride > 0 ? loader.stride : loader.seq_len;
  const std::string batch = fmt::format("{} windows of {} tokens", loader.batch_size, loader.seq_len + 1);
  if (loader.window_shuffle_windows <= 1) {
    return batch + ", in stream order (--window-shuffle-size 1)";
  }
  const double epoch_windows = static_cast<double>(count_windows(epoch.tokens, loader.seq_len, stride));
  const double block_windows = std::min(static_cast<double>(loader.window_shuffle_windows), epoch_windows);
  const double tokens_per_document = static_cast<double>(epoch.tokens) / static_cast<double>(epoch.documents);
  const double documents = std::clamp(block_windows * static_cast<double>(stride) / tokens_per_document, 1.0,
                                      static_cast<double>(epoch.documents));
  const double mixed = std::min(static_cast<double>(loader.batch_size),
                                documents * (1.0 - std::pow(1.0 - 1.0 / documents, static_cast<double>(loader.batch_size))));
  return fmt::format("{}, drawn from shuffled blocks of {} windows (~{} documents each): a batch mixes ~{:.1f} documents",
                     batch, with_thousands(static_cast<int64_t>(block_windows)),
                     with_thousands(static_cast<int64_t>(std::llround(documents))), mixed);
}

ValidationBatches validation_batches(const TrainConfig& c, const ModelConfig& m, const DataPlan& data,
                                     const TokenEncoder& encoder) {
  ValidationBatches batches;
  const bool held_out = !c.val_split && c.val_fraction > 0;
  if (data.val_files.empty() && !held_out) return batches;
  const std::vector<std::string>& files = data.val_files.empty() ? data.train_files : data.val_files;
  // A fixed window order (seed 0), so runs with different seeds validate on the same windows.
  LoaderConfig config = loader_config(c, m, files, validation_selection(c), false, 1);
  config.seed = 0;
  StreamingLoader loader(config, encoder);
  std::vector<uint32_t> raw;
  std::vector<int32_t> doc_pos;
  while (static_cast<int64_t>(batches.tokens.size()) < c.eval_batches && loader.next_batch(raw, doc_pos)) {
    batches.tokens.emplace_back(raw.begin(), raw.end());
    if (c.document_masking) batches.doc_pos.push_back(doc_pos);
  }
  if (batches.tokens.empty()) {
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

// One epoch of the training stream, counted before step 1 so the schedule ends where the data
// ends: from the token cache (--no-use-streaming), or by one tokenizing pass.
struct TrainingData {
  EpochSize epoch_size;
  std::unique_ptr<TokenCache> cache;  // with --no-use-streaming
  double count_seconds = 0;
};

TrainingData count_training_data(const TrainConfig& c, const DataPlan& data, const TokenEncoder& encoder,
                                 Communicator& ranks) {
  TrainingData counted;
  const auto count_start = std::chrono::steady_clock::now();
  std::unique_ptr<TokenCache>& cache = counted.cache;
  if (!c.use_streaming) {
    TokenCacheSource source{data.train_files, c.split, c.text_column, train_selection(c)};
    const std::string path = token_cache_path(token_cache_dir(), source, encoder);
    // Rank 0 builds a missing cache while the others wait, then they find it built.
    bool built = false;
    leader_works(ranks, c.rank_timeout, "building the token cache",
                 [&] { built = build_token_cache(path, source, encoder, data_workers(c)); });
    if (ranks.rank() != 0) built = build_token_cache(path, source, encoder, data_workers(c));
    cache = std::make_unique<TokenCache>(path);
    fmt::print("Token cache: {} {} ({} documents, {} tokens)\n", built ? "built" : "reusing", path,
               with_thousands(cache->num_documents()), with_thousands(cache->num_tokens()));
    counted.epoch_size = {cache->num_tokens() + cache->num_documents() * encoder.framing().size(),
                          cache->num_documents()};
  } else {
    counted.epoch_size = count_epoch_tokens(c, data.train_files, encoder);
  }
  counted.count_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - count_start).count();
  return counted;
}

struct StepPlan {
  int64_t total_steps = 0;
  EpochSize epoch_size;
  EpochCount epochs;
  std::unique_ptr<TokenCache> cache;  // with --no-use-streaming
};

// The optimizer steps of the run: the end of --epochs, or --max-steps if sooner.
StepPlan plan_steps(const TrainConfig& c, const ModelConfig& model_config, TrainingData counted) {
  StepPlan plan;
  plan.cache = std::move(counted.cache);
  plan.epoch_size = counted.epoch_size;
  const int64_t epoch_tokens = plan.epoch_size.tokens;
  const int64_t stride = c.stride.value_or(model_config.seq_len);
  const auto seed = static_cast<uint64_t>(c.seed);
  const int64_t data_steps = count_optimizer_steps(epoch_tokens, c.batch_size, model_config.seq_len,
                                                   stride, c.gradient_accumulation_steps, c.epochs, seed);
  // One epoch's full batches, for training_summary.json's epochs_completed (epochs differ by at
  // most one batch: each starts at its own window offset).
  const int64_t batches_per_epoch = count_optimizer_steps(epoch_tokens, c.batch_size, model_config.seq_len,
                                                          stride, 1, 1, seed);
  if (data_steps <= 0) {
    throw UserError(fmt::format("the training data ({} tokens per epoch) does not fill one optimizer step of "
                                "{} x {} x {} tokens: lower --batch-size, --seq-len or "
                                "--gradient-accumulation-steps, or use more data",
                                with_thousands(epoch_tokens), c.batch_size, c.gradient_accumulation_steps,
                                model_config.seq_len + 1));
  }
  const int64_t total_steps = c.max_steps ? std::min(*c.max_steps, data_steps) : data_steps;
  fmt::print("Training data: {} tokens per epoch (counted in {:.1f}s); {} optimizer steps{}\n",
             with_thousands(epoch_tokens), counted.count_seconds, with_thousands(total_steps),
             c.time_budget ? std::string(" (--time-budget)")
             : c.max_steps && *c.max_steps < data_steps
                 ? fmt::format(" (--max-steps; {} would take {})", count_of(c.epochs, "epoch"),
                               with_thousands(data_steps))
                 : fmt::format(" ({})", count_of(c.epochs, "epoch")));
  plan.total_steps = total_steps;
  plan.epochs = {c.epochs, data_steps, batches_per_epoch, c.gradient_accumulation_steps};
  return plan;
}

void print_run_banner(const TrainingRunInputs& in) {
  fmt::print("{}\n", in.device_banner);
  if (!in.batch_note.empty()) fmt::print("{}\n", in.batch_note);
  fmt::print("Precision: {}\n", in.config.use_mixed_precision
                                   ? "bf16 matmuls with fp32 accumulation (--use-mixed-precision); "
                                     "fp32 weights, optimizer, norms, attention and loss"
                                   : in.config.tf32 && in.backend == BackendKind::kCuda
                                   ? "fp32, matmuls with TF32 operands (--tf32)"
                                   : "fp32");
  const std::string kernels = describe_matmul_kernels({.kind = in.backend, .mixed_precision = in.config.use_mixed_precision});
  if (!kernels.empty()) fmt::print("Matmul kernels: {}\n", kernels);
  if (in.config.activation_checkpointing) {
    fmt::print("Activations: each block's input kept, the rest recomputed in the backward pass "
               "(--activation-checkpointing)\n");
  }
}

// The architecture trained: the planned one with the tokenizer's vocabulary, and a resumed
// run's must be its checkpoint's.
ModelConfig plan_model(const TrainConfig& c, const ModelConfig& planned, const Tokenizer& tokenizer,
                       const ResumePoint* resume) {
  const ModelConfig model_config = size_model(c, planned, tokenizer);
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
  return model_config;
}

// --time-budget: the model and steps chosen for the time (a resumed run keeps its checkpoint's),
// with `c`'s --max-steps, --epochs and --warmup-steps set to them and `planned` to the model;
// with --batch-size auto, the batch chosen for that model in `in.config` (a rank's) and `c` (the
// step's, over every rank); the summary's configuration shows the plan. nullopt without a budget.
std::optional<BudgetPlan> apply_time_budget(TrainConfig& c, TrainingRunInputs& in, const Tokenizer& tokenizer,
                                            const ResumePoint* resume, const EpochSize& epoch,
                                            std::chrono::steady_clock::time_point run_start, ModelConfig& planned,
                                            Communicator& ranks) {
  if (!c.time_budget) return std::nullopt;
  const double unique_tokens = static_cast<double>(epoch.tokens);
  BudgetPlan plan;
  if (resume) {
    plan.budget_seconds = parse_duration(*c.time_budget, "--time-budget");
    const double left = plan.budget_seconds - resume->state.elapsed_seconds;
    plan.deadline = run_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(left));
    plan.model = resume->model;
    plan.batch_size = in.config.batch_size;
    plan.accumulation = in.config.gradient_accumulation_steps;
    plan.steps = resume->state.total_steps;
    plan.end_reserve_seconds = std::min(60.0, 0.02 * plan.budget_seconds) + 1.0;
    fmt::print("Time budget: {}, {} of it used before this resume: the checkpoint's plan of {} steps continues "
               "and stops at the budget at the latest\n",
               format_duration(plan.budget_seconds), format_duration(resume->state.elapsed_seconds),
               with_thousands(plan.steps));
  } else {
    BudgetRequest request;
    request.config = &in.config;  // a rank's batch (`c` has the step's, over every rank)
    request.base = size_model(c, in.model, tokenizer);
    request.model_fixed = budget_model_fixed(c);
    request.unique_tokens = unique_tokens;
    request.backend = {.kind = in.backend, .threads = static_cast<int>(c.threads),
                       .mixed_precision = c.use_mixed_precision};
    request.memory = in.memory;
    request.run_start = run_start;
    request.ranks = &ranks;
    request.world = ranks.world_size();
    plan = plan_time_budget(request);
    print_budget_plan(plan, c);
    if (c.batch_size_auto) {
      in.config.batch_size = plan.batch_size;
      c.batch_size = plan.batch_size * ranks.world_size();
      in.config.gradient_accumulation_steps = c.gradient_accumulation_steps = plan.accumulation;
    }
  }
  c.max_steps = plan.steps;
  // Data for the longest plan the run may grow to (time_budget.h): the loader's epochs only
  // bound the stream, the steps are planned.
  c.epochs = static_cast<int64_t>(kMaxBudgetEpochs) + 1;
  c.warmup_steps = budget_warmup_steps(c, plan.steps);
  planned = plan.model;
  // training_summary.json's configuration shows what the plan chose, not the flags' defaults.
  nlohmann::json& configuration = in.configuration;
  configuration["d_model"] = plan.model.d_model;
  configuration["num_layers"] = plan.model.num_layers;
  configuration["num_heads"] = plan.model.num_heads;
  configuration["num_kv_heads"] = plan.model.num_kv_heads;
  configuration["d_ff"] = plan.model.d_ff;
  configuration["max_steps"] = plan.steps;
  configuration["warmup_steps"] = c.warmup_steps;
  configuration["batch_size"] = plan.batch_size;
  configuration["gradient_accumulation_steps"] = plan.accumulation;
  return plan;
}

// The model and its optimizer: fresh from --seed, or the checkpoint's weights and moments.
struct ModelParts {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<LoraAdapters> lora;  // with --use-lora
  std::unique_ptr<AdamW> optimizer;
};

ModelParts build_model(const TrainingRunInputs& in, const ModelConfig& model_config, const ResumePoint* resume,
                       const Tokenizer& tokenizer) {
  const TrainConfig& c = in.config;
  ModelParts parts;
  parts.backend = make_backend({.kind = in.backend, .threads = static_cast<int>(c.threads),
                                .mixed_precision = c.use_mixed_precision, .tf32 = c.tf32, .device = in.device});
  parts.model = std::make_unique<Transformer>(
      model_config, *parts.backend, c.batch_size, c.use_lora ? ModelUse::kAdapterTraining : ModelUse::kTraining,
      c.activation_checkpointing ? ActivationMemory::kRecompute : ActivationMemory::kKeepAll);
  parts.lora = start_lora(c, *parts.model, *parts.backend);  // null without --use-lora
  AdamWSettings settings;
  settings.weight_decay = c.weight_decay;
  parts.optimizer = std::make_unique<AdamW>(*parts.backend, parts.model->trainable_segments(),
                                            parts.model->trainable_count(), settings);
  if (resume) {
    load_checkpoint(resume->dir, *parts.model, *parts.optimizer, tokenizer.fingerprint());
  } else if (parts.lora) {
    // start_lora set the base and the adapters.
  } else if (c.init_from) {
    parts.model->set_parameters(load_init_weights(*c.init_from, model_config));
    fmt::print("Initialized from {}\n", *c.init_from);
  } else {
    parts.model->initialize(static_cast<uint64_t>(c.seed));
  }
  return parts;
}

// The training batches, from the checkpoint's position when resuming.
std::unique_ptr<BatchLoader> make_train_loader(const TrainConfig& c, const ModelConfig& model_config,
                                               const DataPlan& data, const StepPlan& steps,
                                               const TokenEncoder& encoder, const TrainerState& state,
                                               const ResumePoint* resume) {
  std::optional<LoaderState> loader_resume;
  if (resume) loader_resume = LoaderState::from_json(state.loader_state);
  const LoaderConfig train_loader_config =
      loader_config(c, model_config, data.train_files, train_selection(c), true, c.epochs);
  std::unique_ptr<BatchLoader> train_batches;
  if (steps.cache) {
    train_batches = std::make_unique<CachedLoader>(train_loader_config, *steps.cache, encoder, loader_resume);
  } else {
    train_batches = std::make_unique<StreamingLoader>(train_loader_config, encoder, loader_resume);
  }
  return train_batches;
}

// The run's files beside its checkpoints: tokenizer.json (unless that one is already there),
// model_config.json, and, on a resume, metrics.jsonl and the TensorBoard event files without
// what was logged after the checkpoint.
void write_run_files(RunDirectory& directory, const PreparedTokenizer& prepared, const ModelConfig& model_config,
                     const ResumePoint* resume, int64_t step) {
  const fs::path saved_tokenizer = directory.path() / "tokenizer.json";
  if (prepared.source != TokenizerSource::kReused && !holds_tokenizer(saved_tokenizer, prepared.tokenizer)) {
    directory.write_file("tokenizer.json", prepared.tokenizer.to_json());
    fmt::print("Tokenizer: saved to {}\n", saved_tokenizer.string());
  }
  directory.write_file("model_config.json", model_config_to_json(model_config).dump(2) + "\n");
  if (resume) {
    const int64_t dropped = drop_metrics_after(directory.path() / "metrics.jsonl", step);
    if (dropped > 0) {
      fmt::print("metrics.jsonl: dropped {} {} logged after step {} (this run logs those steps again)\n",
                 dropped, dropped == 1 ? "entry" : "entries", step);
    }
    const int64_t dropped_events = drop_events_after(directory.path() / kTensorBoardDirName, step);
    if (dropped_events > 0) {
      fmt::print("TensorBoard: dropped {} {} logged after step {} from {}/\n", dropped_events,
                 dropped_events == 1 ? "event" : "events", step, kTensorBoardDirName);
    }
  }
}

// The loss plot at the end of every run that logged a step (also a stopped one).
void write_run_plot(const fs::path& output_dir) {
  try {
    if (read_metrics_series(output_dir / "metrics.jsonl").train.empty()) return;
    write_loss_plot(output_dir);
  } catch (const UserError& error) {
    // The run's results are saved; a plot can be drawn later with `utt plot`.
    fmt::print(stderr, "utt: warning: no {} written: {}\n", kLossPlotName, error.what());
  }
}

struct ComputeReport {
  double flops_per_token = 0;
  ComputePeak peak;  // of all ranks together
};

// What the log's TFLOP/s and MFU are computed from, said once before step 1.
ComputeReport plan_compute_report(const TrainConfig& c, BackendKind backend, const ModelConfig& model, int ranks) {
  const TrainingFlops flops = training_flops(model);
  ComputeReport report;
  report.flops_per_token = static_cast<double>(flops.per_token);
  report.peak = run_compute_peak(backend == BackendKind::kCuda,
                                 c.use_mixed_precision ? MatmulPrecision::kBf16 : MatmulPrecision::kFp32, c.peak_tflops);
  report.peak.flops_per_second *= ranks;
  fmt::print("Compute: {:.3g} GFLOP per token (6 x {} matmul parameters + {:.3g} GFLOP attention); peak {}{}\n",
             static_cast<double>(flops.per_token) / 1e9, with_thousands(flops.matmul_parameters),
             static_cast<double>(flops.attention) / 1e9,
             report.peak.flops_per_second > 0 ? fmt::format("{:.3g} TFLOP/s: ", report.peak.flops_per_second / 1e12)
                                              : std::string(),
             report.peak.source + (ranks > 1 && report.peak.flops_per_second > 0 ? fmt::format(", x {} ranks", ranks) : ""));
  return report;
}

// `run` is the run's configuration as planned (a --time-budget sets its warmup); the batch is
// per rank, as given.
TrainerOptions trainer_options(const TrainingRunInputs& in, const TrainConfig& run, const Tokenizer& tokenizer,
                               const ComputeReport& compute, const std::optional<BudgetPlan>& budget,
                               const StepPlan& steps) {
  const TrainConfig& c = in.config;
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
  options.rank_timeout_seconds = c.rank_timeout;
  options.seed = static_cast<uint64_t>(c.seed);
  options.output_dir = c.output_dir;
  options.tokenizer_json = tokenizer.to_json();
  options.resume_command = in.resume_command;
  options.flops_per_token = compute.flops_per_token;
  options.document_masking = c.document_masking;
  options.peak_flops_per_second = compute.peak.flops_per_second;
  options.warmup_steps = run.warmup_steps;
  if (budget) {
    options.deadline = budget->deadline;
    options.end_reserve_seconds = budget->end_reserve_seconds;
    // --max-steps fixes the steps: the plan may only shrink then.
    if (!in.config.max_steps) {
      const int64_t tokens_per_step = run.batch_size * run.gradient_accumulation_steps * budget->model.seq_len;
      options.budget_step_limit = std::min(steps.epochs.data_steps,
                                           budget_step_limit(tokens_per_step, static_cast<double>(steps.epoch_size.tokens)));
    }
  }
  return options;
}

int train(const TrainingRunInputs& inputs, Communicator& ranks) {
  const auto run_start = inputs.started;
  TrainingRunInputs in = inputs;  // a --time-budget with --batch-size auto sets the batch
  TrainConfig c = with_step_batch(in.config, ranks.world_size());
  const bool leader = ranks.rank() == 0;
  // Every wait for the other ranks is bounded: a rank that hangs or is stopped during the
  // set-up is named at the next meeting, at the latest --rank-timeout seconds later.
  ranks.set_timeout(c.rank_timeout);
  int64_t meetings = 0;
  const auto meet = [&](const char* what) {
    wait_for_ranks(ranks, setup_tag(++meetings), c.rank_timeout, what);
  };
  const fs::path output_dir = c.output_dir;
  print_run_banner(in);
  const DataPlan data = plan_data(c);
  fmt::print("Dataset: {} ({} training file{}{})\n", c.dataset_id, data.train_files.size(),
             data.train_files.size() == 1 ? "" : "s",
             data.val_files.empty() ? "" : fmt::format(", {} validation", data.val_files.size()));

  // 1. The output directory and the checkpoint to resume from, looked at without writing (a
  // checkpoint in the cloud is downloaded beside the output directory and removed at the end);
  // the cloud store checked: credentials, bucket, write access.
  const OutputDirState output = inspect_output_dir(output_dir);
  refuse_if_busy(output);
  std::optional<CloudTarget> cloud = leader ? open_cloud_target(c) : std::nullopt;
  const std::unique_ptr<DownloadedCheckpoint> downloaded = download_resume_checkpoint(c);
  if (downloaded) c.resume_from = downloaded->path().string();
  const std::optional<ResumePoint> resume_point = find_resume_point(c, output);
  const ResumePoint* resume = resume_point ? &*resume_point : nullptr;
  check_output_dir(c, output, resume);

  // 2. Everything else, in memory: tokenizer, model size, schedule, validation set, model,
  // optimizer and loader. Each can still refuse the run, and nothing is written yet.
  const PreparedTokenizer prepared = prepare_tokenizer(c, in.model, tokenizer_inputs(c, data, resume));
  const Tokenizer& tokenizer = prepared.tokenizer;
  const TokenizerEncoder encoder(tokenizer);
  // Every rank trains, loads or reuses the tokenizer by the same deterministic rules.
  std::string rank0_tokenizer = tokenizer.fingerprint();
  meet("the tokenizer check");
  broadcast_text(ranks, rank0_tokenizer);
  UTT_CHECK(rank0_tokenizer == tokenizer.fingerprint(), "every rank has rank 0's tokenizer");
  fmt::print("Document separators: {}\n", tokenizer.describe_document_separators());
  TrainingData counted = count_training_data(c, data, encoder, ranks);
  ModelConfig planned = in.model;
  const std::optional<BudgetPlan> budget =
      apply_time_budget(c, in, tokenizer, resume, counted.epoch_size, run_start, planned, ranks);
  const ModelConfig model_config = plan_model(c, planned, tokenizer, resume);
  const StepPlan steps = plan_steps(c, model_config, std::move(counted));
  fmt::print("Batches: {}; {}\n",
             describe_batches(loader_config(c, model_config, data.train_files, train_selection(c), true, c.epochs),
                              steps.epoch_size),
             c.document_masking ? "document-masked: a token attends only within its own document"
                                : "not document-masked (--no-document-masking): windows attend across documents");
  TrainerState state = starting_state(in.config, resume, steps.total_steps, tokenizer.fingerprint(),
                                      ranks.world_size());
  meet("the start of the run");
  broadcast_text(ranks, state.run_id);  // a new run's id is drawn on every rank: rank 0's counts
  if (cloud) check_cloud_prefix(*cloud, state.run_id, state.step);
  const ValidationBatches val_batches = validation_batches(c, model_config, data, encoder);
  if (!val_batches.tokens.empty()) {
    fmt::print("Validation: {} batches every {} steps\n", val_batches.tokens.size(), c.eval_every);
  }
  const ModelParts parts = build_model(in, model_config, resume, tokenizer);  // B rows per rank
  const ComputeReport compute = plan_compute_report(c, in.backend, model_config, ranks.world_size());
  const std::unique_ptr<BatchLoader> train_batches =
      make_train_loader(c, model_config, data, steps, encoder, state, resume);

  // 3. The first writes: the output directory, locked and checked again, with the run's files;
  // rank 0's, once every rank has looked at the directory as it was.
  meet("the creation of the output directory");
  std::unique_ptr<RunDirectory> directory;
  std::unique_ptr<MetricsLog> metrics;
  std::unique_ptr<TensorBoardLog> tensorboard;
  std::unique_ptr<CheckpointUploader> uploader;  // with --cloud-provider
  if (leader) {
    directory = std::make_unique<RunDirectory>(c, resume, state.run_id);
    write_run_files(*directory, prepared, model_config, resume, state.step);
    metrics = std::make_unique<MetricsLog>(output_dir / "metrics.jsonl");
    if (c.tensorboard) {
      tensorboard = std::make_unique<TensorBoardLog>(output_dir / kTensorBoardDirName, state.step + 1);
      fmt::print("TensorBoard: {} (tensorboard --logdir {})\n", tensorboard->path().string(), output_dir.string());
    }
    if (cloud) uploader = start_uploads(std::move(*cloud), c.keep_last, output_dir);
    directory->started();
    fmt::print("\n");
    std::fflush(stdout);
  }

  TrainerOptions options = trainer_options(in, c, tokenizer, compute, budget, steps);
  if (uploader) {
    options.on_checkpoint_saved = [&uploader](const fs::path& dir, const std::string& name) {
      uploader->enqueue(dir, name);
    };
  }
  Trainer trainer(*parts.model, *parts.optimizer, *train_batches, &val_batches, metrics.get(), tensorboard.get(),
                  ranks, options);
  const TrainingResult result = trainer.run(state);
  // The ranks end together: mpirun stops a job as soon as one process exits with an error
  // code (a stop's 143 is one), so no rank may exit while rank 0 still writes.
  leader_works(ranks, c.rank_timeout, "writing the run's last files", [&] {
    RunOutputs outputs{output_dir, in.configuration, model_config, steps.epochs,
                       train_batches->mix().documents_per_batch(), compute.flops_per_token,
                       compute.peak.flops_per_second, compute.peak.source, {}, {}, {}, {}};
    const double used_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count() +
        (resume ? resume->state.elapsed_seconds : 0.0);
    if (budget) outputs.time_budget = budget_summary(*budget, used_seconds, result.state.step, result.deadline_reached);
    if (uploader) {
      const UploadReport report = finish_uploads(*uploader);
      outputs.cloud = upload_summary(uploader->location(), report);
      outputs.cloud_location = uploader->location();
      outputs.cloud_checkpoints = checkpoints_left_in_store(report);
    }
    write_summary(outputs, result);
    write_run_plot(output_dir);
    if (c.export_formats && result.outcome != TrainingOutcome::kInterrupted) {
      export_trained_model(output_dir / "final_checkpoint", output_dir, parse_export_formats(*c.export_formats));
    }
    print_closing_lines(outputs, result);
    if (budget) {
      fmt::print("Time budget: {} planned, {} used ({} probing); {} of {} planned steps\n",
                 format_duration(budget->budget_seconds), format_duration(used_seconds),
                 format_duration(budget->probe_seconds), with_thousands(result.state.step),
                 with_thousands(budget->steps));
    }
  });
  if (result.outcome == TrainingOutcome::kInterrupted) {
    return std::string(stop_signal_name()) == "SIGINT" ? 128 + SIGINT : 128 + SIGTERM;
  }
  return 0;
}

// What did not fit, from the backend (which names it), or from an allocation outside it.
struct OutOfMemory {
  std::string what;
};

// One run of train(); an out-of-memory comes back instead of being thrown.
std::variant<int, OutOfMemory> try_training(const TrainingRunInputs& in, Communicator& ranks) {
  try {
    return train(in, ranks);
  } catch (const OutOfDeviceMemory& error) {
    return OutOfMemory{error.what()};
  } catch (const std::bad_alloc&) {
    return OutOfMemory{"the host is out of memory: an allocation failed (the machine's free memory, a cgroup memory "
                       "limit or an address-space limit such as ulimit -v is reached)"};
  }
}

// --batch-size auto chose a batch from an estimate that leaves things out (the allocator, the
// libraries' workspaces, another process on the device). When a new single-process run with it
// runs out of memory before its first checkpoint, the inputs of one more try with half the
// micro-batch and twice the accumulation (the same rows per step; a --time-budget, which
// chooses the batch with the model, plans with half the memory instead); nullopt otherwise.
std::optional<TrainingRunInputs> backed_off(const TrainingRunInputs& in, const Communicator& ranks,
                                            const std::string& what) {
  const TrainConfig& c = in.config;
  if (!c.batch_size_auto || c.resume_from || ranks.world_size() > 1) return std::nullopt;
  const OutputDirState output = inspect_output_dir(c.output_dir, false);
  if (!output.checkpoints.empty()) return std::nullopt;  // past the first steps
  TrainingRunInputs retry = in;
  std::string change;
  if (c.time_budget) {
    retry.memory.bytes /= 2;
    change = fmt::format("planning with half the memory ({})", human_bytes(retry.memory.bytes));
  } else {
    const std::optional<BatchSplit> halved = halve_micro_batch(c.batch_size, c.gradient_accumulation_steps);
    if (!halved) return std::nullopt;
    retry.config.batch_size = halved->micro_batch;
    retry.config.gradient_accumulation_steps = halved->accumulation;
    retry.configuration["batch_size"] = halved->micro_batch;
    retry.configuration["gradient_accumulation_steps"] = halved->accumulation;
    change = fmt::format("{} rows x {} accumulation step{} instead of {} x {}", halved->micro_batch,
                         halved->accumulation, halved->accumulation == 1 ? "" : "s", c.batch_size,
                         c.gradient_accumulation_steps);
    retry.batch_note = fmt::format("Batch: auto: backed off after an out-of-memory: {}", change);
  }
  // What the first try wrote is its own: a new run's checks passed on the directory before it.
  if (!output.earlier_outputs.empty()) retry.config.overwrite_output_dir = true;
  fmt::print("\nOut of memory before the first checkpoint: {}\n--batch-size auto backs off once and starts again: "
             "{}\n\n", what, change);
  std::fflush(stdout);
  return retry;
}

}  // namespace

int run_training(const TrainingRunInputs& in, Communicator& ranks) {
  std::variant<int, OutOfMemory> outcome = try_training(in, ranks);
  std::optional<TrainingRunInputs> retry;
  if (const auto* oom = std::get_if<OutOfMemory>(&outcome)) {
    retry = backed_off(in, ranks, oom->what);
    if (retry) outcome = try_training(*retry, ranks);
  }
  if (const auto* oom = std::get_if<OutOfMemory>(&outcome)) {
    // The flags that would fit are the run's to say.
    const TrainingRunInputs& tried = retry ? *retry : in;
    throw UserError(oom->what + (retry ? " (after backing off once)" : "") + "; " +
                    out_of_memory_advice(tried.config, tried.model));
  }
  return std::get<int>(outcome);
}

}  // namespace utt
