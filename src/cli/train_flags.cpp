#include "cli/train_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "config/config_file.h"
#include "config/presets.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

template <class T>
using Field = T& (*)(TrainConfig&);

// A field accessor as a plain function pointer: UTT_FIELD(model.d_model).
#define UTT_FIELD(member) [](TrainConfig& c) -> auto& { return c.member; }

std::string show(int64_t value) { return std::to_string(value); }
std::string show(double value) { return fmt::format("{}", value); }
std::string show(const std::string& value) { return value; }
std::string show(bool value) { return value ? "True" : "False"; }
std::string show(Activation value) { return to_string(value); }

// Stores a validated choice into its field; the activation is kept as an enum.
void assign_choice(std::string& field, const std::string& value) { field = value; }
void assign_choice(std::optional<std::string>& field, const std::string& value) { field = value; }
void assign_choice(Activation& field, const std::string& value) { field = parse_activation(value); }
template <class T>
std::string show(const std::optional<T>& value) {
  return value ? show(*value) : "None";
}

bool parse_bool(const std::string& text, const std::string& flag) {
  const std::string lower = to_lower(text);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  throw UserError("--" + flag + " expects true or false, got '" + text + "'");
}

template <class T>
FlagSpec make(std::string name, std::string section, FlagKind kind, std::string value_name,
              std::string help, Field<T> field) {
  FlagSpec spec;
  spec.name = std::move(name);
  spec.section = std::move(section);
  spec.kind = kind;
  spec.value_name = std::move(value_name);
  spec.help = std::move(help);
  spec.get = [field](const TrainConfig& config) {
    TrainConfig copy = config;
    return show(field(copy));
  };
  return spec;
}

FlagSpec int_flag(std::string name, std::string section, std::string help, Field<int64_t> field,
                  std::string value_name = "N") {
  FlagSpec spec = make(name, std::move(section), FlagKind::kInt, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_int(v, "--" + name); };
  return spec;
}

// --batch-size N, or auto: the largest micro-batch that fits, with accumulation.
FlagSpec batch_size_flag(const std::string& section) {
  // The guide's help text; --effective-batch-tokens' says what auto does.
  FlagSpec spec = int_flag("batch-size", section, "Training batch size", UTT_FIELD(batch_size), "N|auto");
  spec.set = [](TrainConfig& c, const std::string& v) {
    c.batch_size_auto = v == "auto";
    if (!c.batch_size_auto) c.batch_size = parse_int(v, "--batch-size");
  };
  spec.get = [](const TrainConfig& c) { return c.batch_size_auto ? std::string("auto") : std::to_string(c.batch_size); };
  return spec;
}

FlagSpec optional_int_flag(std::string name, std::string section, std::string help,
                           Field<std::optional<int64_t>> field, std::string value_name = "N") {
  FlagSpec spec = make(name, std::move(section), FlagKind::kInt, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_int(v, "--" + name); };
  return spec;
}

FlagSpec optional_float_flag(std::string name, std::string section, std::string help,
                             Field<std::optional<double>> field, std::string value_name = "X") {
  FlagSpec spec = make(name, std::move(section), FlagKind::kFloat, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_float(v, "--" + name); };
  return spec;
}

FlagSpec count_flag(std::string name, std::string section, std::string help,
                    Field<std::optional<int64_t>> field) {
  FlagSpec spec = make(name, std::move(section), FlagKind::kCount, "N", std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_count(v, "--" + name); };
  return spec;
}

FlagSpec float_flag(std::string name, std::string section, std::string help, Field<double> field,
                    std::string value_name = "X") {
  FlagSpec spec = make(name, std::move(section), FlagKind::kFloat, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_float(v, "--" + name); };
  return spec;
}

FlagSpec string_flag(std::string name, std::string section, std::string help,
                     Field<std::string> field, std::string value_name) {
  FlagSpec spec = make(name, std::move(section), FlagKind::kString, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) {
    if (v.empty()) throw UserError("--" + name + " needs a non-empty value");
    field(c) = v;
  };
  return spec;
}

FlagSpec optional_string_flag(std::string name, std::string section, std::string help,
                              Field<std::optional<std::string>> field, std::string value_name) {
  FlagSpec spec = make(name, std::move(section), FlagKind::kString, std::move(value_name),
                       std::move(help), field);
  spec.set = [field, name](TrainConfig& c, const std::string& v) {
    if (v.empty()) throw UserError("--" + name + " needs a non-empty value");
    field(c) = v;
  };
  return spec;
}

// A string restricted to `choices`; an unknown value is refused with a suggestion.
template <class T>
FlagSpec choice_flag(std::string name, std::string section, std::string help, Field<T> field,
                     std::vector<std::string> choices) {
  std::string value_name;
  for (const auto& choice : choices) value_name += (value_name.empty() ? "" : "|") + choice;
  FlagSpec spec = make(name, std::move(section), FlagKind::kChoice, value_name, std::move(help), field);
  spec.choices = choices;
  spec.set = [field, name, choices](TrainConfig& c, const std::string& v) {
    const std::string lower = to_lower(v);
    if (std::find(choices.begin(), choices.end(), lower) == choices.end()) {
      std::string message = "unknown value '" + v + "' for --" + name + ": use one of ";
      for (size_t i = 0; i < choices.size(); ++i) message += (i ? ", " : "") + choices[i];
      if (auto guess = closest_match(lower, choices)) message += " (did you mean " + *guess + "?)";
      throw UserError(message);
    }
    assign_choice(field(c), lower);
  };
  return spec;
}

FlagSpec bool_flag(std::string name, std::string section, std::string help, Field<bool> field,
                   bool spelled_negative = false) {
  FlagSpec spec = make(name, std::move(section), FlagKind::kBool, "", std::move(help), field);
  spec.spelled_negative = spelled_negative;
  spec.set = [field, name](TrainConfig& c, const std::string& v) { field(c) = parse_bool(v, name); };
  return spec;
}

std::vector<FlagSpec> build_train_flags() {
  const std::string dataset = "Dataset";
  const std::string tokenizer = "Tokenizer";
  const std::string model = "Model";
  const std::string optimizations = "Model optimizations";
  const std::string training = "Training";
  const std::string loading = "Data loading";
  const std::string optimization = "Optimization";
  const std::string checkpoint = "Checkpoint & logging";
  const std::string cloud = "Cloud storage";
  const std::string run = "Run";

  std::vector<FlagSpec> flags = {
      string_flag("dataset-id", dataset, "HuggingFace dataset ID (org/name), or a local file or directory (required)", UTT_FIELD(dataset_id), "ID"),
      string_flag("text-column", dataset, "Column containing text data", UTT_FIELD(text_column), "NAME"),
      optional_string_flag("dataset-config", dataset, "Dataset configuration/subset", UTT_FIELD(dataset_config), "NAME"),
      string_flag("split", dataset, "Dataset split to use", UTT_FIELD(split), "NAME"),
      optional_string_flag("val-split", dataset, "Validation split (optional)", UTT_FIELD(val_split), "NAME"),
      optional_int_flag("max-train-examples", dataset, "Limit training examples", UTT_FIELD(max_train_examples)),
      optional_int_flag("max-val-examples", dataset, "Limit validation examples", UTT_FIELD(max_val_examples)),
      float_flag("val-fraction", dataset, "Without --val-split: hold out this seeded share of the documents for validation (0: none)", UTT_FIELD(val_fraction), "F"),

      bool_flag("auto-vocab-size", tokenizer, "Auto-determine optimal vocab size", UTT_FIELD(auto_vocab_size)),
      int_flag("vocab-size", tokenizer, "Vocabulary size", UTT_FIELD(model.vocab_size)),
      int_flag("min-vocab-size", tokenizer, "Minimum vocab size (auto mode)", UTT_FIELD(min_vocab_size)),
      int_flag("max-vocab-size", tokenizer, "Maximum vocab size (auto mode)", UTT_FIELD(max_vocab_size)),
      int_flag("tokenizer-train-examples", tokenizer, "Examples for training tokenizer", UTT_FIELD(tokenizer_train_examples)),
      bool_flag("retrain-tokenizer", tokenizer, "Force retrain tokenizer", UTT_FIELD(retrain_tokenizer)),
      optional_string_flag("tokenizer-path", tokenizer, "Custom tokenizer path (a tokenizer.json)", UTT_FIELD(tokenizer_path), "PATH"),

      optional_string_flag("model-preset", model, "Preset architecture: nano, tiny, small, medium, large, xlarge (utt presets lists them)", UTT_FIELD(model_preset), "NAME"),
      count_flag("target-params", model, "Size the model for this many parameters (10000000, 10M, 1.5B)", UTT_FIELD(target_params)),
      bool_flag("prefer-depth", model, "With --target-params: prefer deeper over wider", UTT_FIELD(prefer_depth)),
      int_flag("d-model", model, "Model hidden dimension", UTT_FIELD(model.d_model)),
      int_flag("num-layers", model, "Number of transformer layers", UTT_FIELD(model.num_layers)),
      int_flag("num-heads", model, "Number of attention heads", UTT_FIELD(model.num_heads)),
      int_flag("num-kv-heads", model, "Key/value heads for grouped-query attention (must divide --num-heads)", UTT_FIELD(model.num_kv_heads)),
      int_flag("d-ff", model, "Feed-forward dimension", UTT_FIELD(model.d_ff)),
      int_flag("seq-len", model, "Maximum sequence length", UTT_FIELD(model.seq_len)),
      float_flag("dropout-rate", model, "Dropout rate", UTT_FIELD(model.dropout_rate), "P"),
      optional_string_flag("init-from", model, "Start from a utt checkpoint or a Hugging Face model folder (Llama or GPT-2): its weights, architecture and tokenizer", UTT_FIELD(init_from), "DIR"),
      choice_flag<Activation>("activation", model, "Activation function (relu/gelu/silu): the standard FFN's, or with SwiGLU on the gate's: silu is SwiGLU (the default there), gelu GeGLU, relu ReGLU", UTT_FIELD(model.activation), {"relu", "gelu", "silu"}),

      bool_flag("rmsnorm", optimizations, "Disable RMSNorm (use LayerNorm)", UTT_FIELD(model.rmsnorm), true),
      bool_flag("swiglu", optimizations, "Disable SwiGLU (use standard FFN)", UTT_FIELD(model.swiglu), true),
      bool_flag("rope", optimizations, "Disable RoPE (use learned positions)", UTT_FIELD(model.rope), true),
      bool_flag("flash-attention", optimizations, "Disable Flash Attention", UTT_FIELD(model.flash_attention), true),
      bool_flag("tie-embeddings", optimizations, "Give the LM head its own weights instead of sharing the token embeddings", UTT_FIELD(model.tie_embeddings), true),
      bool_flag("use-lora", optimizations, "Enable LoRA fine-tuning", UTT_FIELD(use_lora)),
      int_flag("lora-rank", optimizations, "LoRA rank", UTT_FIELD(lora_rank)),
      optional_float_flag("lora-alpha", optimizations, "LoRA scale numerator: adapters add (alpha / rank) B A x (None: 2 x rank)", UTT_FIELD(lora_alpha), "A"),
      float_flag("lora-dropout", optimizations, "Dropout on the input of the LoRA adapters", UTT_FIELD(lora_dropout), "P"),
      string_flag("lora-targets", optimizations, "Linear layers that get adapters: any of q,k,v,o,gate,up,down", UTT_FIELD(lora_targets), "LIST"),

      int_flag("epochs", training, "Number of training epochs", UTT_FIELD(epochs)),
      batch_size_flag(training),
      optional_int_flag("effective-batch-tokens", training, "With --batch-size auto (the largest micro-batch that fits the device's memory, gradient accumulation for the rest; an out-of-memory before the first checkpoint halves it once): tokens per optimizer step (None: from the model size)", UTT_FIELD(effective_batch_tokens)),
      int_flag("gradient-accumulation-steps", training, "Gradient accumulation steps", UTT_FIELD(gradient_accumulation_steps)),
      float_flag("learning-rate", training, "Peak learning rate", UTT_FIELD(learning_rate), "LR"),
      float_flag("weight-decay", training, "Weight decay for AdamW", UTT_FIELD(weight_decay)),
      int_flag("warmup-steps", training, "Learning rate warmup steps", UTT_FIELD(warmup_steps)),
      float_flag("grad-clip", training, "Gradient clipping norm (0: no clipping)", UTT_FIELD(grad_clip)),
      optional_int_flag("max-steps", training, "Stop after this many optimizer steps (default: the end of --epochs)", UTT_FIELD(max_steps)),
      int_flag("seed", training, "Random seed for initialization, shuffling and dropout", UTT_FIELD(seed)),

      bool_flag("use-streaming", loading, "Use streaming data loader (--no-use-streaming: tokenize once into a cache)", UTT_FIELD(use_streaming)),
      int_flag("shuffle-buffer-size", loading, "Shuffle buffer size", UTT_FIELD(shuffle_buffer_size)),
      optional_int_flag("stride", loading, "Sequence stride (None: seq-len)", UTT_FIELD(stride)),
      bool_flag("document-masking", loading, "Let no token attend across a document boundary of its packed window; learned positions restart with each document (--no-document-masking: windows attend across documents)", UTT_FIELD(document_masking)),
      optional_int_flag("window-shuffle-size", loading, "Packed windows shuffled together, so a batch mixes many documents (None: about 4M tokens' worth, at least 64 batches; 1: stream order)", UTT_FIELD(window_shuffle_size)),

      bool_flag("use-mixed-precision", optimization, "Use bfloat16 precision", UTT_FIELD(use_mixed_precision)),
      bool_flag("activation-checkpointing", optimization, "Keep only each block's input for the backward pass and recompute the rest there: less activation memory for about one more forward pass; the same gradients", UTT_FIELD(activation_checkpointing)),
      bool_flag("tf32", optimization, "On a GPU, let fp32 matmuls round their operands to TF32 (10-bit mantissa) for tensor-core speed; without it fp32 stays fp32 (no effect with --use-mixed-precision or on the CPU)", UTT_FIELD(tf32)),

      string_flag("output-dir", checkpoint, "Output directory", UTT_FIELD(output_dir), "DIR"),
      int_flag("log-every", checkpoint, "Log every N steps", UTT_FIELD(log_every)),
      int_flag("save-every", checkpoint, "Save checkpoint every N steps", UTT_FIELD(save_every)),
      int_flag("eval-every", checkpoint, "Evaluate every N steps", UTT_FIELD(eval_every)),
      int_flag("eval-batches", checkpoint, "Validation batches per evaluation (a fixed set)", UTT_FIELD(eval_batches)),
      int_flag("keep-last", checkpoint, "Keep only the newest K checkpoint_step_N directories (0: keep all)", UTT_FIELD(keep_last), "K"),
      optional_string_flag("resume-from", checkpoint, "Resume from checkpoint path, 'latest' (the newest checkpoint of the run in --output-dir), or a checkpoint in the cloud: s3://BUCKET/PREFIX/latest, gs://..., az://ACCOUNT/CONTAINER/PREFIX/latest (or .../checkpoint_step_N)", UTT_FIELD(resume_from), "DIR"),
      optional_string_flag("export", checkpoint, "At the end, also export the final model: hf, gguf or hf,gguf (into OUTPUT_DIR/export_hf, OUTPUT_DIR/model.gguf)", UTT_FIELD(export_formats), "FORMATS"),
      bool_flag("tensorboard", checkpoint, "Do not write TensorBoard event files (OUTPUT_DIR/runs/, for tensorboard --logdir OUTPUT_DIR)", UTT_FIELD(tensorboard), true),
      bool_flag("overwrite-output-dir", checkpoint, "Start a new run in an --output-dir that holds an earlier run's checkpoints and logs, removing them first (without it, such a run is refused)", UTT_FIELD(overwrite_output_dir)),

      choice_flag<std::optional<std::string>>("cloud-provider", cloud, "Cloud provider (s3/gcs/azure)", UTT_FIELD(cloud_provider), {"s3", "gcs", "azure"}),
      optional_string_flag("cloud-bucket", cloud, "Cloud bucket/container name", UTT_FIELD(cloud_bucket), "NAME"),
      optional_string_flag("cloud-region", cloud, "Cloud region (S3: else AWS_REGION; GCS: auto)", UTT_FIELD(cloud_region), "REGION"),
      string_flag("cloud-prefix", cloud, "Cloud storage prefix: checkpoints go to PREFIX/checkpoint_step_N/ in the bucket (one prefix per run)", UTT_FIELD(cloud_prefix), "PREFIX"),
      optional_string_flag("cloud-endpoint", cloud, "Another server than the provider's own: an S3-compatible store (else AWS_ENDPOINT_URL), or Azure's blob endpoint (http(s)://HOST[:PORT][/ACCOUNT])", UTT_FIELD(cloud_endpoint), "URL"),
      optional_string_flag("azure-sas-token", cloud, "Azure SAS token (else AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING)", UTT_FIELD(azure_sas_token), "TOKEN"),
      optional_string_flag("azure-account-name", cloud, "Azure storage account (else AZURE_STORAGE_ACCOUNT)", UTT_FIELD(azure_account_name), "NAME"),

      optional_string_flag("config", run, "Read flags from a TOML or JSON file; command-line flags override it", UTT_FIELD(config_file), "FILE"),
      choice_flag<std::string>("device", run, "Where to train: auto (a GPU when one is visible), cpu or cuda", UTT_FIELD(device), {"auto", "cpu", "cuda"}),
      int_flag("threads", run, "CPU threads of each rank (0: its share of the cores)", UTT_FIELD(threads)),
      int_flag("num-devices", run, "Data-parallel ranks on this machine: N worker processes, started through mpirun, that split the cores (under mpirun or srun the launcher's ranks are used)", UTT_FIELD(num_devices), "N"),
      optional_float_flag("peak-tflops", run, "Peak TFLOP/s of one device, for the MFU in the log and training_summary.json (None: measured on the CPU, the data sheet's for a known GPU)", UTT_FIELD(peak_tflops), "TFLOPS"),
      float_flag("rank-timeout", run, "With several ranks: seconds a rank waits for the others at a step before it stops the job naming those that did not come", UTT_FIELD(rank_timeout), "SECONDS"),
      optional_string_flag("time-budget", run, "Train for this long (90s, 20m, 2h): utt measures its speed here and chooses the model size and steps with the best expected loss, ending with the final checkpoint within the budget (a preset, dimensions or --max-steps fix those parts)", UTT_FIELD(time_budget), "DURATION"),
      bool_flag("dry-run", run, "Print the resolved configuration, model size, memory estimate and schedule, then exit", UTT_FIELD(dry_run)),
  };
  for (FlagSpec& flag : flags) {
    if (flag.name == "azure-sas-token") flag.secret = true;
  }
  return flags;
}

#undef UTT_FIELD

}  // namespace

const std::vector<FlagSpec>& train_flags() {
  static const std::vector<FlagSpec> flags = build_train_flags();
  return flags;
}

std::string FlagSpec::shown_value(const TrainConfig& config) const {
  if (kind == FlagKind::kBool && spelled_negative) {
    return get(config) == "True" ? "False" : "True";  // --no-rmsnorm is on when rmsnorm is off
  }
  return get(config);
}

namespace {

const FlagSpec* find_flag(const std::string& name) {
  for (const FlagSpec& flag : train_flags()) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// Every spelling a user may type, for "did you mean".
std::vector<std::string> all_spellings() {
  std::vector<std::string> spellings;
  for (const FlagSpec& flag : train_flags()) {
    spellings.push_back("--" + flag.name);
    if (flag.kind == FlagKind::kBool) spellings.push_back("--no-" + flag.name);
  }
  return spellings;
}

[[noreturn]] void unknown_flag(const std::string& spelling, const std::string& where) {
  std::string message = "unknown flag " + spelling + where;
  if (auto guess = closest_match(spelling, all_spellings())) {
    message += ": did you mean " + *guess + "?";
  } else {
    message += ": see utt train --help for every flag";
  }
  throw UserError(message);
}

// Applies one flag. `name` is as typed, without dashes; `value` is empty for a bare boolean.
void apply_flag(TrainConfig& config, std::string name, const std::optional<std::string>& value,
                const std::string& where) {
  const FlagSpec* flag = find_flag(name);
  bool negated = false;
  if (!flag && starts_with(name, "no-")) {
    flag = find_flag(name.substr(3));
    negated = flag && flag->kind == FlagKind::kBool;
    if (!negated) flag = nullptr;
  }
  if (!flag) unknown_flag("--" + name, where);
  if (flag->name == "config" && !where.empty()) {
    throw UserError("--config cannot be set inside a config file" + where);
  }
  if (flag->kind == FlagKind::kBool) {
    bool on = value ? parse_bool(*value, flag->name) : true;
    if (negated) on = !on;  // --no-NAME, or no_NAME = true in a config file
    flag->set(config, on ? "true" : "false");
  } else {
    if (negated) unknown_flag("--" + name, where);
    if (!value) {
      throw UserError("--" + flag->name + " needs a value" +
                      (flag->value_name.empty() ? "" : " (" + flag->value_name + ")") + where);
    }
    flag->set(config, *value);
  }
  config.explicitly_set.insert(flag->name);
}

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  while (starts_with(key, "-")) key.erase(0, 1);
  return key;
}

}  // namespace

TrainConfig parse_train_args(const std::vector<std::string>& args) {
  // Split into (name, value) pairs first, so --config can be applied before everything else.
  struct Given {
    std::string name;
    std::optional<std::string> value;
  };
  std::vector<Given> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!starts_with(arg, "--") || arg.size() == 2) {
      throw UserError("unexpected argument '" + arg + "': utt train takes only flags such as "
                      "--dataset-id NAME (see utt train --help)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    } else {
      const FlagSpec* flag = find_flag(name);
      const FlagSpec* negated = starts_with(name, "no-") ? find_flag(name.substr(3)) : nullptr;
      if (!flag && !(negated && negated->kind == FlagKind::kBool)) unknown_flag(arg, "");
      const bool takes_value = flag && flag->kind != FlagKind::kBool;
      if (takes_value && i + 1 < args.size() && !starts_with(args[i + 1], "--")) {
        value = args[++i];
      }
    }
    given.push_back({name, value});
  }

  TrainConfig config;
  for (const Given& g : given) {
    if (g.name != "config") continue;
    if (!g.value) throw UserError("--config needs a value (FILE)");
    for (const ConfigEntry& entry : read_config_file(*g.value)) {
      apply_flag(config, normalize_key(entry.key), entry.value, " (in --config " + *g.value + ")");
    }
    config.config_file = *g.value;
  }
  for (const Given& g : given) {
    if (g.name == "config") continue;
    apply_flag(config, g.name, g.value, "");
  }
  return config;
}

std::string train_help() {
  const TrainConfig defaults;
  std::string out =
      "utt train - train a BPE tokenizer and a decoder-only transformer on a dataset\n"
      "\n"
      "Usage: utt train --dataset-id ID [flags]\n"
      "       (also installed as train_ultimate, which takes the same flags)\n"
      "\n"
      "Flags take their value as the next argument or after '=' (--batch-size 16,\n"
      "--batch-size=16). Every on/off flag also has the opposite form: --use-streaming and\n"
      "--no-use-streaming, --no-rope and --rope.\n";
  std::string section;
  for (const FlagSpec& flag : train_flags()) {
    if (flag.section != section) {
      section = flag.section;
      out += "\n" + section + ":\n";
    }
    std::string left = "  " + flag.spelling();
    if (!flag.value_name.empty()) left += " " + flag.value_name;
    // A required flag has no default: its help says "(required)".
    const std::string default_text =
        flag.name == "dataset-id" ? "" : " (default: " + flag.shown_value(defaults) + ")";
    std::string line = fmt::format("{:<36} {}{}", left, flag.help, default_text);
    if (left.size() >= 36) line = left + "\n" + fmt::format("{:<36} {}{}", "", flag.help, default_text);
    out += line + "\n";
  }
  out +=
      "\nExamples:\n"
      "  utt train --dataset-id roneneldan/TinyStories --model-preset tiny --auto-vocab-size --epochs 3\n"
      "  utt train --dataset-id data/sotu --val-split validation --model-preset nano --dry-run\n"
      "  utt train --dataset-id wikitext --dataset-config wikitext-2-raw-v1 --d-model 512 \\\n"
      "            --num-layers 8 --num-heads 8 --d-ff 2048 --vocab-size 16000 --seq-len 256\n"
      "  utt train --dataset-id roneneldan/TinyStories --target-params 10M --prefer-depth\n";
  return out;
}

nlohmann::json flags_to_json(const TrainConfig& config) {
  nlohmann::json json = nlohmann::json::object();
  for (const FlagSpec& flag : train_flags()) {
    if (flag.secret) continue;
    std::string key = flag.name;
    std::replace(key.begin(), key.end(), '-', '_');
    const std::string value = flag.get(config);
    if (value == "None") {
      json[key] = nullptr;
    } else if (flag.kind == FlagKind::kBool) {
      json[key] = value == "True";
    } else if ((flag.kind == FlagKind::kInt || flag.kind == FlagKind::kCount) && value != "auto") {
      json[key] = std::stoll(value);
    } else if (flag.kind == FlagKind::kFloat) {
      json[key] = std::stod(value);
    } else {
      json[key] = value;
    }
  }
  return json;
}

std::string resume_command(const std::vector<std::string>& args) {
  auto quote = [](const std::string& text) {
    if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                "0123456789-_./=:,+@%") == std::string::npos) {
      return text;
    }
    std::string quoted = "'";
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
  };
  std::string command = "utt train";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resume-from") {
      ++i;  // and its value
      continue;
    }
    if (starts_with(args[i], "--resume-from=")) continue;
    // A secret is never printed: the command names where its value goes.
    if (args[i] == "--azure-sas-token" || starts_with(args[i], "--azure-sas-token=")) {
      command.append(" --azure-sas-token \"$AZURE_STORAGE_SAS_TOKEN\"");
      if (args[i] == "--azure-sas-token") ++i;
      continue;
    }
    // Continuing a run must not remove it.
    if (args[i] == "--overwrite-output-dir" || starts_with(args[i], "--overwrite-output-dir=")) continue;
    command.append(" ").append(quote(args[i]));  // not `+`: GCC 12's false -Wrestrict
  }
  return command;
}

}  // namespace utt
