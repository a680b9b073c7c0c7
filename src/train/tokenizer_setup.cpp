#include "train/tokenizer_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "data/document_stream.h"
#include "tokenizer/auto_vocab.h"
#include "tokenizer/bpe_train.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

// Held out for --auto-vocab-size's compression curve: every tenth training document among the
// tokenizer's examples, which are then not trained on.
constexpr int64_t kHeldOutEvery = 10;

DocumentSelection first_documents(DocumentSelection selection, int64_t count) {
  selection.max_documents = std::min(selection.max_documents.value_or(count), count);
  return selection;
}

}  // namespace

Tokenizer prepare_tokenizer(const TrainConfig& config, const ModelConfig& model,
                            const std::vector<std::string>& train_files, DocumentSelection training) {
  if (config.tokenizer_path) {
    Tokenizer tokenizer = Tokenizer::load(*config.tokenizer_path);
    fmt::print("Tokenizer: loaded {} ({} tokens)\n", *config.tokenizer_path,
               with_thousands(tokenizer.vocab_size()));
    return tokenizer;
  }
  const fs::path saved = fs::path(config.output_dir) / "tokenizer.json";
  if (fs::exists(saved) && !config.retrain_tokenizer) {
    Tokenizer tokenizer = Tokenizer::load(saved.string());
    fmt::print("Tokenizer: reusing {} ({} tokens; --retrain-tokenizer trains a new one)\n",
               saved.string(), with_thousands(tokenizer.vocab_size()));
    return tokenizer;
  }

  const auto start = std::chrono::steady_clock::now();
  DocumentStream documents(train_files, config.text_column,
                           first_documents(training, config.tokenizer_train_examples));
  int64_t used = 0;
  Tokenizer tokenizer = [&] {
    if (!config.auto_vocab_size) {
      BpeTrainOptions options;
      options.vocab_size = static_cast<uint32_t>(config.model.vocab_size);
      options.threads = static_cast<int>(config.threads);
      return train_bpe(
          [&](std::string_view& text) {
            const bool more = documents.next(text);
            used += more;
            return more;
          },
          options);
    }
    // First pass: the held-out documents; second pass: train on the others.
    std::vector<std::string> held_out;
    {
      DocumentStream scan(train_files, config.text_column,
                          first_documents(training, config.tokenizer_train_examples));
      std::string_view text;
      for (int64_t i = 0; scan.next(text); ++i) {
        if (i % kHeldOutEvery == kHeldOutEvery - 1) held_out.emplace_back(text);
      }
    }
    int64_t index = 0;
    DocumentSource training_documents = [&](std::string_view& text) {
      while (documents.next(text)) {
        if (index++ % kHeldOutEvery == kHeldOutEvery - 1) continue;
        ++used;
        return true;
      }
      return false;
    };
    AutoVocabOptions options;
    options.min_vocab_size = static_cast<uint32_t>(config.min_vocab_size);
    options.max_vocab_size = static_cast<uint32_t>(config.max_vocab_size);
    options.threads = static_cast<int>(config.threads);
    AutoVocabResult result = choose_vocab_size(training_documents, held_out, model, options);
    // The curve's last line is the choice and its reason.
    fmt::print("Vocabulary size (--auto-vocab-size):\n{}", format_vocab_curve(result));
    return std::move(result.tokenizer);
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::create_directories(config.output_dir);
  tokenizer.save(saved.string());
  fmt::print("Tokenizer: trained on {} documents in {:.1f}s, {} tokens -> {}\n",
             with_thousands(used), seconds, with_thousands(tokenizer.vocab_size()), saved.string());
  return tokenizer;
}

}  // namespace utt
