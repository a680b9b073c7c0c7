#include <cmath>
#include <string>

#include "config/duration.h"
#include "config/presets.h"
#include "config/train_config.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

// Tokens every vocabulary needs besides merges: the 256 byte tokens, <|endoftext|>, <|pad|>.
constexpr int64_t kMinVocabSize = 256 + 2;

void require_positive(int64_t value, const std::string& flag) {
  if (value <= 0) {
    throw UserError("--" + flag + " must be at least 1, got " + std::to_string(value));
  }
}

void require_not_negative(int64_t value, const std::string& flag) {
  if (value < 0) {
    throw UserError("--" + flag + " must be 0 or more, got " + std::to_string(value));
  }
}

void require_vocab(int64_t value, const std::string& flag) {
  if (value < kMinVocabSize) {
    throw UserError("--" + flag + " must be at least " + std::to_string(kMinVocabSize) +
                    " (256 byte tokens plus <|endoftext|> and <|pad|>), got " +
                    std::to_string(value));
  }
}

void validate_model_choice(const TrainConfig& c) {
  if (c.model_preset) find_preset(*c.model_preset);  // throws for an unknown name
  if (c.target_params && c.model_preset) {
    throw UserError("--target-params and --model-preset both choose the model's size: keep one "
                    "of them");
  }
  if (c.target_params) {
    for (const char* flag : {"d-model", "num-layers", "num-heads", "d-ff"}) {
      if (c.was_set(flag)) {
        throw UserError("--target-params chooses --" + std::string(flag) +
                        " itself: drop --" + std::string(flag) +
                        ", or drop --target-params and give every dimension");
      }
    }
    if (*c.target_params <= 0) {
      throw UserError("--target-params must be positive, got " + std::to_string(*c.target_params));
    }
  }
  if (c.prefer_depth && !c.target_params && !c.time_budget) {
    throw UserError("--prefer-depth only applies to --target-params or --time-budget sizing: add "
                    "--target-params N or drop --prefer-depth");
  }
  if (c.was_set("lora-rank") && !c.use_lora) {
    throw UserError("--lora-rank is set but LoRA is off: add --use-lora, or drop --lora-rank");
  }
  if (c.use_lora) require_positive(c.lora_rank, "lora-rank");
  for (const char* flag : {"lora-alpha", "lora-dropout", "lora-targets"}) {
    if (c.was_set(flag) && !c.use_lora) {
      throw UserError(std::string("--") + flag + " is set but LoRA is off: add --use-lora, or drop --" + flag);
    }
  }
  // A dry run shows the plan of the guide's LoRA example (which names no base) and says what a real
  // run needs (dry_run.cpp).
  if (c.use_lora && !c.init_from && !c.dry_run) {
    throw UserError("--use-lora fine-tunes an existing model, and none is given: add --init-from DIR (a utt "
                    "checkpoint or a Hugging Face Llama/GPT-2 folder); to train a new model, drop --use-lora");
  }
  if (c.lora_dropout < 0 || c.lora_dropout >= 1) {
    throw UserError("--lora-dropout must be in [0, 1), got " + std::to_string(c.lora_dropout));
  }
  if (c.lora_alpha && *c.lora_alpha <= 0) {
    throw UserError("--lora-alpha must be positive, got " + std::to_string(*c.lora_alpha));
  }
  if (c.model.dropout_rate < 0 || c.model.dropout_rate >= 1) {
    throw UserError("--dropout-rate must be in [0, 1), got " + std::to_string(c.model.dropout_rate));
  }
}

void validate_time_budget(const TrainConfig& c) {
  if (!c.time_budget) return;
  parse_duration(*c.time_budget, "--time-budget");  // throws for a bad spelling
  if (c.was_set("epochs")) {
    throw UserError("--time-budget chooses how many tokens to train on, and --epochs fixes it: drop one "
                    "(--max-steps fixes the steps and lets the budget choose the model)");
  }
}

void validate_tokenizer(const TrainConfig& c) {
  require_vocab(c.model.vocab_size, "vocab-size");
  require_vocab(c.min_vocab_size, "min-vocab-size");
  require_vocab(c.max_vocab_size, "max-vocab-size");
  if (c.min_vocab_size > c.max_vocab_size) {
    throw UserError("--min-vocab-size " + std::to_string(c.min_vocab_size) +
                    " is larger than --max-vocab-size " + std::to_string(c.max_vocab_size) +
                    ": swap them or widen the range");
  }
  require_positive(c.tokenizer_train_examples, "tokenizer-train-examples");
  if (c.tokenizer_path && c.auto_vocab_size) {
    throw UserError("--auto-vocab-size trains a new tokenizer, but --tokenizer-path loads one: "
                    "keep one of them");
  }
  if (c.tokenizer_path && c.retrain_tokenizer) {
    throw UserError("--retrain-tokenizer trains a new tokenizer, but --tokenizer-path loads one: "
                    "keep one of them");
  }
}

void validate_dataset(const TrainConfig& c) {
  if (c.dataset_id.empty()) {
    throw UserError("--dataset-id is required: name a Hugging Face dataset (such as "
                    "roneneldan/TinyStories) or a local file or directory");
  }
  if (c.text_column.empty()) throw UserError("--text-column must not be empty");
  if (c.split.empty()) throw UserError("--split must not be empty (the default is train)");
  if (c.max_train_examples) require_positive(*c.max_train_examples, "max-train-examples");
  if (c.max_val_examples) require_positive(*c.max_val_examples, "max-val-examples");
  if (!(c.val_fraction >= 0.0 && c.val_fraction < 1.0)) {
    throw UserError("--val-fraction must be at least 0 and below 1 (0.05 holds out 5% of the "
                    "documents for validation)");
  }
  if (c.val_split && c.val_fraction > 0.0) {
    throw UserError("--val-fraction holds out documents only when there is no --val-split: "
                    "keep one of them");
  }
  if (c.val_split && *c.val_split == c.split) {
    throw UserError("--val-split '" + *c.val_split + "' is the training split too: validation "
                    "on training data measures nothing; name another split");
  }
}

void validate_auto_batch(const TrainConfig& c) {
  if (c.effective_batch_tokens && !c.batch_size_auto) {
    throw UserError("--effective-batch-tokens applies to --batch-size auto: add --batch-size auto, or drop it "
                    "(--batch-size N x --gradient-accumulation-steps M sets the batch yourself)");
  }
  if (!c.batch_size_auto) return;
  if (c.effective_batch_tokens) require_positive(*c.effective_batch_tokens, "effective-batch-tokens");
  if (c.was_set("gradient-accumulation-steps")) {
    throw UserError("--batch-size auto chooses --gradient-accumulation-steps itself: drop it "
                    "(--effective-batch-tokens sets the tokens per optimizer step)");
  }
}

void validate_training(const TrainConfig& c) {
  require_positive(c.epochs, "epochs");
  require_positive(c.batch_size, "batch-size");
  require_positive(c.gradient_accumulation_steps, "gradient-accumulation-steps");
  validate_auto_batch(c);
  if (!(c.learning_rate > 0)) {
    throw UserError("--learning-rate must be positive, got " + std::to_string(c.learning_rate));
  }
  if (c.weight_decay < 0) {
    throw UserError("--weight-decay must be 0 or more, got " + std::to_string(c.weight_decay));
  }
  require_not_negative(c.warmup_steps, "warmup-steps");
  if (c.grad_clip < 0) {
    throw UserError("--grad-clip must be 0 (no clipping) or more, got " +
                    std::to_string(c.grad_clip));
  }
  if (c.max_steps) require_positive(*c.max_steps, "max-steps");
  if (c.max_steps && c.warmup_steps >= *c.max_steps) {
    throw UserError("--warmup-steps " + std::to_string(c.warmup_steps) + " is not below --max-steps " +
                    std::to_string(*c.max_steps) +
                    ": the learning rate would never leave warmup; lower --warmup-steps");
  }
  require_not_negative(c.seed, "seed");
  require_positive(c.shuffle_buffer_size, "shuffle-buffer-size");
  if (c.stride) {
    require_positive(*c.stride, "stride");
  }
  if (c.window_shuffle_size) require_positive(*c.window_shuffle_size, "window-shuffle-size");
  require_positive(c.log_every, "log-every");
  require_positive(c.save_every, "save-every");
  require_positive(c.eval_every, "eval-every");
  require_positive(c.eval_batches, "eval-batches");
  require_not_negative(c.keep_last, "keep-last");
  if (c.output_dir.empty()) throw UserError("--output-dir must not be empty");
  require_not_negative(c.threads, "threads");
  require_positive(c.num_devices, "num-devices");
  if (!(c.rank_timeout > 0)) throw UserError("--rank-timeout must be a positive number of seconds");
  if (c.peak_tflops && !(*c.peak_tflops > 0 && std::isfinite(*c.peak_tflops))) {
    throw UserError("--peak-tflops must be a positive number of TFLOP/s (one device's peak, e.g. 989 for an H100 SXM in bf16)");
  }
}

void validate_cloud(const TrainConfig& c) {
  if (c.cloud_provider && !c.cloud_bucket) {
    throw UserError("--cloud-provider " + *c.cloud_provider +
                    " needs --cloud-bucket (the bucket or container that receives checkpoints)");
  }
  // Every cloud setting needs the provider it configures, or a checkpoint in the cloud to
  // resume from (whose store the region, endpoint and Azure flags also describe).
  const std::string resume = c.resume_from.value_or("");
  const bool cloud_resume = resume.rfind("s3://", 0) == 0 || resume.rfind("gs://", 0) == 0 ||
                            resume.rfind("az://", 0) == 0;
  const std::pair<bool, const char*> cloud_settings[] = {
      {c.cloud_bucket.has_value(), "--cloud-bucket"},
      {c.was_set("cloud-prefix"), "--cloud-prefix"},
      {c.cloud_region.has_value() && !cloud_resume, "--cloud-region"},
      {c.cloud_endpoint.has_value() && !cloud_resume, "--cloud-endpoint"}};
  for (const auto& [given, flag] : cloud_settings) {
    if (given && !c.cloud_provider) {
      throw UserError(std::string(flag) + " needs --cloud-provider s3, gcs or azure (and --cloud-bucket)");
    }
  }
  const bool azure = (c.cloud_provider && *c.cloud_provider == "azure") || resume.rfind("az://", 0) == 0;
  if ((c.azure_account_name || c.azure_sas_token) && !azure) {
    throw UserError("--azure-account-name and --azure-sas-token only apply to --cloud-provider azure (or "
                    "--resume-from az://...)");
  }
}

}  // namespace

void validate(const TrainConfig& config) {
  validate_dataset(config);
  validate_tokenizer(config);
  validate_model_choice(config);
  validate_training(config);
  validate_cloud(config);
  validate_time_budget(config);
}

void validate_model(const ModelConfig& m) {
  const std::pair<int64_t, const char*> sizes[] = {
      {m.d_model, "d-model"}, {m.num_layers, "num-layers"}, {m.num_heads, "num-heads"},
      {m.num_kv_heads, "num-kv-heads"}, {m.d_ff, "d-ff"}, {m.seq_len, "seq-len"}};
  for (const auto& [value, flag] : sizes) require_positive(value, flag);
  if (m.d_model % m.num_heads != 0) {
    throw UserError("--d-model " + std::to_string(m.d_model) + " is not divisible by --num-heads " +
                    std::to_string(m.num_heads) + ": each head needs d_model / num_heads "
                    "dimensions; pick num_heads dividing d_model (such as " +
                    std::to_string(m.d_model % 64 == 0 ? m.d_model / 64 : 1) + ")");
  }
  if (m.num_kv_heads > m.num_heads || m.num_heads % m.num_kv_heads != 0) {
    throw UserError("--num-heads " + std::to_string(m.num_heads) +
                    " is not divisible by --num-kv-heads " + std::to_string(m.num_kv_heads) +
                    ": each key/value head serves a whole group of query heads; pick a divisor "
                    "of num_heads");
  }
  if (m.rope && m.head_dim() % 2 != 0) {
    throw UserError("RoPE needs an even head size, but d_model " + std::to_string(m.d_model) +
                    " / num_heads " + std::to_string(m.num_heads) + " = " +
                    std::to_string(m.head_dim()) +
                    "; change --d-model or --num-heads, or use learned positions (--no-rope)");
  }
}

}  // namespace utt
