// `utt data stats`: what a dataset holds, as the trainer will read it (NULL and empty texts
// skipped, invalid UTF-8 repaired), so a user knows what they are about to train on.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "cli/commands.h"
#include "cli/command_flags.h"
#include "data/dataset_files.h"
#include "data/dataset_stats.h"
#include "data/streaming_loader.h"
#include "data/window_packer.h"
#include "tokenizer/tokenizer.h"
#include "train/tokenizer_encoder.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

std::string data_help() {
  return "utt data - look at a dataset before training on it\n"
         "\n"
         "Usage: utt data stats --dataset-id ID [--dataset-config NAME] [--split NAME]\n"
         "                      [--text-column NAME] [--tokenizer PATH]\n"
         "                      [--batch-size B] [--seq-len T] [--stride S] [--seed N]\n"
         "                      [--shuffle-buffer-size N] [--window-shuffle-size N]\n"
         "\n"
         "Prints one 'name: value' line each: documents, characters (Unicode code points),\n"
         "bytes (UTF-8), tokens (with --tokenizer, a tokenizer.json; end-of-text separators\n"
         "not counted), unigram_entropy_nats (with --tokenizer: the loss a model that knows only\n"
         "token frequencies reaches), skipped (NULL or empty texts, never trained on) and\n"
         "invalid_utf8_replaced (invalid UTF-8 sequences replaced by U+FFFD).\n"
         "\n"
         "With --tokenizer it also makes the first batches (up to 200) exactly as utt train\n"
         "would, with the same batch, shuffle and seed flags and defaults (--batch-size 32,\n"
         "--seq-len 256, --shuffle-buffer-size 10000, --seed 42), and prints\n"
         "documents_per_batch: how many distinct documents the windows of a batch come from\n"
         "(a window counts for the document of its first token), averaged.\n"
         "\n"
         "--dataset-id takes a local file (.txt, .jsonl, .json, .parquet; text and JSON may be\n"
         ".gz or .zst), a glob, or a folder. A folder whose files are named by split\n"
         "(train.jsonl, validation.jsonl, data/test-00000-of-00001.parquet) serves --split as a\n"
         "Hugging Face dataset repository does; other folders are all 'train'.\n"
         "The defaults are --split train and --text-column text.\n";
}

int64_t positive_flag(const CommandFlags& flags, const std::string& name, int64_t fallback) {
  if (!flags.has(name)) return fallback;
  const int64_t value = parse_int(flags.get(name), "--" + name);
  if (value < 1) throw UserError("--" + name + " must be at least 1, got " + flags.get(name));
  return value;
}

// The first batches utt train would make of these files with these flags, and how many
// documents each mixes.
void print_documents_per_batch(const CommandFlags& flags, const std::vector<std::string>& files,
                               const std::string& text_column, const TokenEncoder& encoder,
                               const DatasetStats& stats) {
  constexpr int64_t kBatches = 200;
  LoaderConfig config;
  config.files = files;
  config.text_column = text_column;
  config.batch_size = positive_flag(flags, "batch-size", 32);
  config.seq_len = positive_flag(flags, "seq-len", 256);
  config.stride = positive_flag(flags, "stride", config.seq_len);
  if (config.stride > config.seq_len) {
    throw UserError("--stride must not exceed --seq-len (" + std::to_string(config.seq_len) + ")");
  }
  config.shuffle_buffer_size = static_cast<size_t>(positive_flag(flags, "shuffle-buffer-size", 10000));
  config.window_shuffle_windows = positive_flag(
      flags, "window-shuffle-size", default_window_shuffle_windows(config.seq_len, config.batch_size));
  config.seed = static_cast<uint64_t>(flags.has("seed") ? parse_int(flags.get("seed"), "--seed") : 42);
  const int64_t stream_tokens = *stats.tokens + stats.documents * encoder.framing().size();
  if (count_windows(stream_tokens, config.seq_len, config.stride) < config.batch_size) {
    fmt::print("documents_per_batch: none (less than one batch of {} windows of {} tokens)\n",
               config.batch_size, config.seq_len + 1);
    return;
  }
  StreamingLoader loader(config, encoder);
  std::vector<uint32_t> batch;
  for (int64_t b = 0; b < kBatches && loader.next_batch(batch); ++b) {
  }
  fmt::print("documents_per_batch: {:.2f}\n", loader.mix().documents_per_batch());
}

int run_data_stats(const std::vector<std::string>& args) {
  const CommandFlags flags(args, "utt data stats",
                           {{"dataset-id", "dataset-config", "split", "text-column", "tokenizer", "batch-size",
                             "seq-len", "stride", "seed", "shuffle-buffer-size", "window-shuffle-size"},
                            {},
                            {}});
  if (flags.help()) {
    fmt::print("{}", data_help());
    return 0;
  }
  struct {
    std::string dataset_id, split, text_column;
    std::optional<std::string> dataset_config;
  } config;
  config.dataset_id = flags.required("dataset-id");
  config.split = flags.get("split", "train");
  config.text_column = flags.get("text-column", "text");
  if (flags.has("dataset-config")) config.dataset_config = flags.get("dataset-config");
  const std::optional<std::string> tokenizer_path =
      flags.has("tokenizer") ? std::optional<std::string>(flags.get("tokenizer")) : std::nullopt;
  const std::vector<std::string> files =
      resolve_dataset_split(config.dataset_id, config.dataset_config, config.split);
  std::optional<Tokenizer> tokenizer;
  if (tokenizer_path) tokenizer = Tokenizer::load(*tokenizer_path);
  std::optional<TokenizerEncoder> encoder;
  if (tokenizer) encoder.emplace(*tokenizer);
  const DatasetStats stats =
      compute_dataset_stats(files, config.text_column, encoder ? &*encoder : nullptr);
  if (stats.documents == 0) {
    throw UserError("no documents in split '" + config.split + "' of " + config.dataset_id + ": " +
                    std::to_string(stats.skipped) + " rows, all NULL or empty in column '" +
                    config.text_column + "'; check --text-column and --split");
  }
  fmt::print("{}", format_dataset_stats(stats));
  if (encoder) print_documents_per_batch(flags, files, config.text_column, *encoder, stats);
  return 0;
}

}  // namespace

int run_data(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    fmt::print("{}", data_help());
    return args.empty() ? kExitUserError : 0;
  }
  if (args[0] == "stats") return run_data_stats({args.begin() + 1, args.end()});
  throw UserError("unknown data command '" + args[0] + "': utt data has stats (utt data --help)");
}

}  // namespace utt
