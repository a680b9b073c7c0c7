// TrainConfig: everything `utt train` was asked to do, filled from the command line and an
// optional --config file (src/cli/train_flags.cpp), resolved and validated once
// (resolve.cpp, validate.cpp), printed by --dry-run and saved with every checkpoint.
//
// Field names follow the guide's flags with dashes turned into underscores.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "config/model_config.h"

namespace utt {

struct TrainConfig {
  // Dataset
  std::string dataset_id;  // required: a Hub id (org/name) or a local file/directory
  std::string text_column = "text";
  std::optional<std::string> dataset_config;
  std::string split = "train";
  std::optional<std::string> val_split;
  std::optional<int64_t> max_train_examples;
  std::optional<int64_t> max_val_examples;
  double val_fraction = 0.0;  // held-out share when there is no val_split (0: no validation)

  // Tokenizer
  bool auto_vocab_size = false;
  int64_t min_vocab_size = 5000;
  int64_t max_vocab_size = 50000;
  int64_t tokenizer_train_examples = 10000;
  bool retrain_tokenizer = false;
  std::optional<std::string> tokenizer_path;

  // Model: a preset, a parameter budget, or explicit dimensions (model.*).
  std::optional<std::string> model_preset;
  std::optional<int64_t> target_params;
  bool prefer_depth = false;
  // vocab_size, dimensions and architecture switches. --activation's default is the guide's,
  // gelu (the MLP's); resolve_model gives a gated FFN silu (SwiGLU) when it is not set.
  ModelConfig model = [] {
    ModelConfig defaults;
    defaults.activation = Activation::kGelu;
    return defaults;
  }();
  bool use_lora = false;
  int64_t lora_rank = 8;
  // Start from a utt checkpoint or a Hugging Face folder (export/init_source.h).
  std::optional<std::string> init_from;
  std::optional<double> lora_alpha;  // default: 2 x lora_rank
  double lora_dropout = 0.0;
  std::string lora_targets = "q,v";  // of q, k, v, o, gate, up, down

  // Training
  int64_t epochs = 3;
  int64_t batch_size = 32;
  // --batch-size auto: the run chooses batch_size and gradient_accumulation_steps from the
  // device's memory (config/batch_size.h) for effective_batch_tokens per optimizer step.
  bool batch_size_auto = false;
  std::optional<int64_t> effective_batch_tokens;  // default: from the model size
  int64_t gradient_accumulation_steps = 1;
  double learning_rate = 5e-4;
  double weight_decay = 0.01;
  int64_t warmup_steps = 500;
  double grad_clip = 1.0;
  std::optional<int64_t> max_steps;
  int64_t seed = 42;

  // Data loading
  bool use_streaming = true;
  int64_t shuffle_buffer_size = 10000;
  std::optional<int64_t> stride;  // default: seq_len
  std::optional<int64_t> window_shuffle_size;  // windows; default: about 4M tokens' worth
  // A packed window's tokens attend only within their own document (and learned positions
  // restart with each document); --no-document-masking lets them see the earlier documents.
  bool document_masking = true;

  // Optimization
  bool use_mixed_precision = false;
  // Keep only each block's input for the backward pass and recompute the rest there.
  bool activation_checkpointing = false;
  bool tf32 = false;  // --tf32: fp32 matmuls on a GPU may use TF32 tensor cores

  // Checkpoint & logging
  std::string output_dir = "output_ultimate";
  int64_t log_every = 10;
  int64_t save_every = 1000;
  int64_t eval_every = 500;
  int64_t eval_batches = 50;  // the fixed validation set: this many batches
  int64_t keep_last = 0;      // checkpoint_step_N directories kept (0: all)
  std::optional<std::string> resume_from;
  std::optional<std::string> export_formats;  // --export hf,gguf: export the final model
  bool overwrite_output_dir = false;  // a new run may replace an earlier run's outputs
  bool tensorboard = true;            // event files in OUTPUT_DIR/runs/ (--no-tensorboard)

  // Cloud storage
  std::optional<std::string> cloud_provider;  // s3 | gcs | azure
  std::optional<std::string> cloud_bucket;
  std::optional<std::string> cloud_region;
  std::string cloud_prefix = "checkpoints";
  std::optional<std::string> cloud_endpoint;  // an S3-compatible server, GCS or Azure elsewhere
  std::optional<std::string> azure_sas_token;
  std::optional<std::string> azure_account_name;

  // Run
  std::optional<std::string> config_file;
  std::string device = "auto";  // auto | cpu | cuda
  int64_t threads = 0;          // 0: one per core (per rank: the ranks on a machine split its cores)
  int64_t num_devices = 1;      // data-parallel ranks started on this machine (CPU: processes)
  double rank_timeout = 600;    // seconds a rank waits for the others at a step before stopping the job
  // --time-budget 20m: utt chooses the model size and steps for this wall time (train/time_budget.h).
  std::optional<std::string> time_budget;
  std::optional<double> peak_tflops;  // one device's peak for MFU; default: measured (CPU), table (GPU)
  bool dry_run = false;

  // Flags (by name, without dashes) given on the command line or in the config file, so
  // resolution can tell "the user asked for 512" from "512 is the default".
  std::set<std::string> explicitly_set;
  bool was_set(const std::string& flag) const { return explicitly_set.count(flag) > 0; }
};

// Where the model's dimensions came from, for the dry run's explanation.
struct ResolvedModel {
  ModelConfig config;
  std::string source;  // "preset tiny", "--target-params 10,000,000", "explicit dimensions"
};

// The architecture switches as trained: --activation names the gate's activation of the gated
// FFN; its guide default, gelu, is the MLP's, so left unset with the gated FFN it is silu
// (SwiGLU). Every reader of a TrainConfig's model goes through this (resolve_model does).
ModelConfig architecture_of(const TrainConfig& config);

// Applies the preset or the parameter budget, then the explicit dimension flags that
// override it. Throws UserError when the request cannot be met.
ResolvedModel resolve_model(const TrainConfig& config);

// Every rule the flags must satisfy together; throws UserError naming the first broken one
// and its fix. Runs before resolve_model.
void validate(const TrainConfig& config);

// Every rule a resolved architecture must satisfy (divisibility, positive sizes, RoPE's even
// head size). Runs after resolve_model, so it also catches a preset overridden badly.
void validate_model(const ModelConfig& model);

}  // namespace utt
