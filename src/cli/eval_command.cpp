// `utt eval`: a trained model's loss and perplexity on a dataset split.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_flags.h"
#include "cli/commands.h"
#include "data/dataset_files.h"
#include "data/streaming_loader.h"
#include "generate/inference_model.h"
#include "train/tokenizer_encoder.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

const char* const kEvalHelp =
    "utt eval - a trained model's loss and perplexity on a dataset split\n"
    "\n"
    "Usage: utt eval --checkpoint DIR --dataset-id ID [flags]\n"
    "\n"
    "  --checkpoint DIR       a checkpoint directory (output_ultimate/final_checkpoint, ...; a LoRA\n"
    "                         run's, or a Hugging Face Llama/GPT-2 folder)\n"
    "  --dataset-id ID        a local file, glob or folder, as for utt train\n"
    "  --dataset-config NAME  dataset configuration/subset (default: None)\n"
    "  --split NAME           the split to evaluate on (default: validation; a file or glob\n"
    "                         is one split, evaluated whole)\n"
    "  --text-column NAME     column holding the text (default: text)\n"
    "  --batch-size N         windows per batch (default: 8)\n"
    "  --max-batches N        evaluate at most N batches; 0 means the whole split (default: 0)\n"
    "  --threads N            CPU threads; 0 is one per core (default: 0)\n"
    "  --save-token-logprobs FILE  also write every window's tokens and the log-probability of each\n"
    "                         next token, one JSON line per window (to compare with other runtimes)\n"
    "\n"
    "Documents are read in order, joined by <|endoftext|> and cut into windows of the model's\n"
    "seq_len + 1 tokens, as in training. Prints loss, perplexity, batches and tokens as\n"
    "`name: value` lines.\n";

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  const CommandFlags flags(args, "utt eval",
                           {{"checkpoint", "dataset-id", "dataset-config", "split", "text-column",
                             "batch-size", "max-batches", "threads", "save-token-logprobs"},
                            {},
                            {}});
  if (flags.help()) {
    fmt::print("{}", kEvalHelp);
    return 0;
  }
  const std::string checkpoint = flags.required("checkpoint");
  const std::string dataset = flags.required("dataset-id");
  const std::optional<std::string> config =
      flags.has("dataset-config") ? std::optional<std::string>(flags.get("dataset-config")) : std::nullopt;
  // A file or a glob has one split (as for utt train): without --split, that one.
  std::error_code error;
  const bool one_split = is_local_dataset(dataset) && !std::filesystem::is_directory(dataset, error);
  const std::string split = flags.get("split", one_split ? "train" : "validation");
  const int64_t batch_size = parse_int(flags.get("batch-size", "8"), "--batch-size");
  const int64_t max_batches = parse_int(flags.get("max-batches", "0"), "--max-batches");
  const int64_t threads = parse_int(flags.get("threads", "0"), "--threads");
  if (batch_size < 1) throw UserError("--batch-size must be at least 1, got " + std::to_string(batch_size));
  if (max_batches < 0) throw UserError("--max-batches must be 0 (all) or more");

  const std::vector<std::string> files = resolve_dataset_split(dataset, config, split);
  InferenceModel loaded = load_inference_model(checkpoint, static_cast<int>(threads), batch_size);
  const TokenizerEncoder encoder(*loaded.tokenizer);

  LoaderConfig loader_config;
  loader_config.files = files;
  loader_config.text_column = flags.get("text-column", "text");
  loader_config.batch_size = batch_size;
  loader_config.seq_len = loaded.model->config().seq_len;
  loader_config.epochs = 1;
  loader_config.offset_epochs = false;  // every window of the split, tiled from its start
  loader_config.worker_threads = 2;
  StreamingLoader loader(loader_config, encoder);

  std::unique_ptr<std::ofstream> logprobs_out;
  if (flags.has("save-token-logprobs")) {
    logprobs_out = std::make_unique<std::ofstream>(flags.get("save-token-logprobs"), std::ios::trunc);
    if (!*logprobs_out) {
      throw UserError("cannot write --save-token-logprobs " + flags.get("save-token-logprobs") +
                      ": check that its directory exists and is writable");
    }
  }
  const int64_t T = loaded.model->config().seq_len;

  std::vector<std::vector<int32_t>> batches(1);  // one batch at a time, its buffer reused
  std::vector<uint32_t> raw;
  double total = 0;
  int64_t count = 0;
  // One batch at a time, so a large split needs no more memory than a batch.
  while ((max_batches == 0 || count < max_batches) && loader.next_batch(raw)) {
    batches[0].assign(raw.begin(), raw.end());
    total += evaluate(*loaded.model, batches, batch_size);
    ++count;
    if (logprobs_out) {
      const std::vector<float> losses = loaded.model->token_losses(batch_size);
      for (int64_t b = 0; b < batch_size; ++b) {
        nlohmann::json row = {{"tokens", std::vector<int32_t>(raw.begin() + b * (T + 1), raw.begin() + (b + 1) * (T + 1))},
                              {"logprobs", nlohmann::json::array()}};
        for (int64_t t = 0; t < T; ++t) row["logprobs"].push_back(-static_cast<double>(losses[static_cast<size_t>(b * T + t)]));
        *logprobs_out << row.dump() << "\n";
      }
    }
  }
  if (count == 0) {
    throw UserError(fmt::format("split '{}' of {} holds less than one batch of {} x {} tokens: lower "
                                "--batch-size",
                                split, dataset, batch_size, loaded.model->config().seq_len + 1));
  }
  const double loss = total / static_cast<double>(count);
  fmt::print("loss: {:.4f}\nperplexity: {:.2f}\nbatches: {}\ntokens: {}\n", loss,
             std::exp(std::min(loss, 700.0)), count, count * batch_size * loaded.model->config().seq_len);
  return 0;
}

}  // namespace utt
