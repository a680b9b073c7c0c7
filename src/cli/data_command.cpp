// `utt data stats`: what a dataset holds, as the trainer will read it (NULL and empty texts
// skipped, invalid UTF-8 repaired), so a user knows what they are about to train on.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "data/dataset_files.h"
#include "data/dataset_stats.h"
#include "tokenizer/tokenizer.h"
#include "train/tokenizer_encoder.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

const std::vector<std::string> kStatsFlags = {"dataset-id", "dataset-config", "split",
                                              "text-column"};

std::string data_help() {
  return "utt data - look at a dataset before training on it\n"
         "\n"
         "Usage: utt data stats --dataset-id ID [--dataset-config NAME] [--split NAME]\n"
         "                      [--text-column NAME] [--tokenizer PATH]\n"
         "\n"
         "Prints one 'name: value' line each: documents, characters (Unicode code points),\n"
         "bytes (UTF-8), tokens (with --tokenizer, a tokenizer.json; end-of-text separators\n"
         "not counted), unigram_entropy_nats (with --tokenizer: the loss a model that knows only\n"
         "token frequencies reaches), skipped (NULL or empty texts, never trained on) and\n"
         "invalid_utf8_replaced (invalid UTF-8 sequences replaced by U+FFFD).\n"
         "\n"
         "--dataset-id takes a local file (.txt, .jsonl, .json, .parquet; text and JSON may be\n"
         ".gz or .zst), a glob, or a folder. A folder whose files are named by split\n"
         "(train.jsonl, validation.jsonl, data/test-00000-of-00001.parquet) serves --split as a\n"
         "Hugging Face dataset repository does; other folders are all 'train'.\n"
         "The defaults are --split train and --text-column text.\n";
}

bool wants_help(const std::vector<std::string>& args) {
  return std::find(args.begin(), args.end(), "--help") != args.end() ||
         std::find(args.begin(), args.end(), "-h") != args.end();
}

int run_data_stats(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    fmt::print("{}", data_help());
    return 0;
  }
  // --tokenizer is this command's own flag; the rest are the train flags of the same names.
  std::optional<std::string> tokenizer_path;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--tokenizer" || starts_with(args[i], "--tokenizer=")) {
      if (args[i] == "--tokenizer" && i + 1 >= args.size()) {
        throw UserError("--tokenizer needs a path to a tokenizer.json");
      }
      tokenizer_path = args[i] == "--tokenizer" ? args[++i] : args[i].substr(12);
      continue;
    }
    rest.push_back(args[i]);
  }
  const TrainConfig config = parse_train_args(rest);
  for (const std::string& flag : config.explicitly_set) {
    if (std::find(kStatsFlags.begin(), kStatsFlags.end(), flag) == kStatsFlags.end()) {
      throw UserError("utt data stats does not take --" + flag +
                      ": it takes --dataset-id, --dataset-config, --split, --text-column and "
                      "--tokenizer");
    }
  }
  if (config.dataset_id.empty()) {
    throw UserError("utt data stats needs --dataset-id: a local file, glob or folder");
  }
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
