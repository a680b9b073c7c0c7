#include "train/tokenizer_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "config/sizing.h"
#include "data/document_stream.h"
#include "tokenizer/auto_vocab.h"
#include "tokenizer/bpe_train.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

// Without validation text, --auto-vocab-size's compression curve is measured on every tenth
// training document among the tokenizer's examples (which are then not trained on); with it,
// on this share of the examples' count taken from the validation text.
constexpr int64_t kHeldOutEvery = 10;

DocumentSelection first_documents(DocumentSelection selection, int64_t count) {
  selection.max_documents = std::min(selection.max_documents.value_or(count), count);
  return selection;
}

// An explicit --vocab-size is a promise: a tokenizer of another size is refused, saying how
// to get what was asked.
void require_asked_size(const TrainConfig& c, const Tokenizer& tokenizer, const std::string& what,
                        const std::string& fix) {
  if (!c.was_set("vocab-size") || c.auto_vocab_size) return;
  if (static_cast<int64_t>(tokenizer.vocab_size()) == c.model.vocab_size) return;
  throw UserError(fmt::format("--vocab-size {} was asked, but {} has {} tokens: {}", c.model.vocab_size, what,
                              tokenizer.vocab_size(), fix));
}

Tokenizer load_tokenizer(const std::string& path, const std::string& flag) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw UserError(flag + " " + path + ": no such file; give the path of a tokenizer.json");
  }
  return Tokenizer::load(path);
}

PreparedTokenizer checkpoint_tokenizer(const TrainConfig& c, const fs::path& checkpoint) {
  const std::string path = (checkpoint / "tokenizer.json").string();
  Tokenizer tokenizer = Tokenizer::load(path);
  if (c.tokenizer_path) {
    const Tokenizer given = load_tokenizer(*c.tokenizer_path, "--tokenizer-path");
    if (given.fingerprint() != tokenizer.fingerprint()) {
      throw UserError("--tokenizer-path " + *c.tokenizer_path + " is not the tokenizer " + checkpoint.string() +
                      " was trained with: drop --tokenizer-path (a resumed run keeps its checkpoint's)");
    }
  }
  require_asked_size(c, tokenizer, "the tokenizer of " + checkpoint.string(),
                     "a resumed run keeps its checkpoint's tokenizer; drop --vocab-size");
  std::string unused;
  if (c.retrain_tokenizer) unused += "--retrain-tokenizer";
  if (c.auto_vocab_size) unused += std::string(unused.empty() ? "" : " and ") + "--auto-vocab-size";
  fmt::print("Tokenizer: the checkpoint's, {} ({} tokens){}\n", path, with_thousands(tokenizer.vocab_size()),
             unused.empty() ? "" : "; " + unused + " apply to new runs only");
  return {std::move(tokenizer), TokenizerSource::kCheckpoint};
}

// Held-out text for --auto-vocab-size: validation documents when the run has them, else every
// tenth of the tokenizer's training examples.
std::vector<std::string> vocab_curve_text(const TrainConfig& c, const TokenizerInputs& in, bool& from_validation) {
  std::vector<std::string> held_out;
  std::string_view text;
  from_validation = !in.validation_files.empty();
  if (from_validation) {
    const int64_t wanted = std::max<int64_t>(1, c.tokenizer_train_examples / kHeldOutEvery);
    DocumentStream scan(in.validation_files, c.text_column, first_documents(in.validation, wanted));
    while (scan.next(text)) held_out.emplace_back(text);
    if (held_out.empty()) {
      throw UserError("--auto-vocab-size measures compression on the validation text, but it holds no documents: "
                      "check --val-split / --val-fraction, or give --vocab-size");
    }
    return held_out;
  }
  DocumentStream scan(in.train_files, c.text_column, first_documents(in.training, c.tokenizer_train_examples));
  int64_t documents = 0;
  for (; scan.next(text); ++documents) {
    if (documents % kHeldOutEvery == kHeldOutEvery - 1) held_out.emplace_back(text);
  }
  if (held_out.empty()) {
    throw UserError(fmt::format("--auto-vocab-size measures compression on held-out text: without validation "
                                "text it holds out every {}th training document, but the tokenizer has only {}: "
                                "add --val-split or --val-fraction, use more documents, or give --vocab-size",
                                kHeldOutEvery, documents));
  }
  return held_out;
}

PreparedTokenizer train_tokenizer(const TrainConfig& c, const ModelConfig& model, const TokenizerInputs& in) {
  const auto start = std::chrono::steady_clock::now();
  DocumentStream documents(in.train_files, c.text_column, first_documents(in.training, c.tokenizer_train_examples));
  int64_t used = 0;
  std::string note;
  Tokenizer tokenizer = [&] {
    if (!c.auto_vocab_size) {
      BpeTrainOptions options;
      options.vocab_size = static_cast<uint32_t>(c.model.vocab_size);
      options.threads = static_cast<int>(c.threads);
      return train_bpe(
          [&](std::string_view& text) {
            const bool more = documents.next(text);
            used += more;
            return more;
          },
          options);
    }
    bool from_validation = false;
    const std::vector<std::string> held_out = vocab_curve_text(c, in, from_validation);
    int64_t index = 0;
    DocumentSource training_documents = [&](std::string_view& text) {
      while (documents.next(text)) {
        if (!from_validation && index++ % kHeldOutEvery == kHeldOutEvery - 1) continue;
        ++used;
        return true;
      }
      return false;
    };
    AutoVocabOptions options;
    options.min_vocab_size = static_cast<uint32_t>(c.min_vocab_size);
    options.max_vocab_size = static_cast<uint32_t>(c.max_vocab_size);
    options.threads = static_cast<int>(c.threads);
    if (c.target_params) {
      // A vocabulary whose embedding outgrows the budget cannot be sized for: the range stops
      // where the budget does.
      const auto fits = static_cast<uint32_t>(suggested_vocab_size(*c.target_params, model));
      if (fits < options.max_vocab_size) {
        options.max_vocab_size = std::max(options.min_vocab_size, fits);
        fmt::print("Vocabulary size: at most {} (--target-params {} leaves no room for a larger embedding)\n",
                   options.max_vocab_size, with_thousands(*c.target_params));
      }
    }
    AutoVocabResult result = choose_vocab_size(training_documents, held_out, model, options);
    // The curve's last line is the choice and its reason.
    fmt::print("Vocabulary size (--auto-vocab-size, measured on {} {} documents):\n{}", held_out.size(),
               from_validation ? "validation" : "held-out training", format_vocab_curve(result));
    return std::move(result.tokenizer);
  }();
  if (!c.auto_vocab_size && static_cast<int64_t>(tokenizer.vocab_size()) < c.model.vocab_size) {
    if (c.was_set("vocab-size")) {
      throw UserError(fmt::format("the tokenizer's training text ({} documents) yields only {} tokens, fewer than "
                                  "--vocab-size {}: lower --vocab-size to at most {}, or train the tokenizer on "
                                  "more text (--tokenizer-train-examples)",
                                  used, tokenizer.vocab_size(), c.model.vocab_size, tokenizer.vocab_size()));
    }
    note = fmt::format(" (the text holds no more merges; the default --vocab-size is {})", c.model.vocab_size);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("Tokenizer: trained on {} documents in {:.1f}s, {} tokens{}\n", with_thousands(used), seconds,
             with_thousands(tokenizer.vocab_size()), note);
  return {std::move(tokenizer), TokenizerSource::kTrained};
}

}  // namespace

PreparedTokenizer prepare_tokenizer(const TrainConfig& c, const ModelConfig& model, const TokenizerInputs& in) {
  if (in.resume_checkpoint) return checkpoint_tokenizer(c, *in.resume_checkpoint);
  if (c.tokenizer_path) {
    Tokenizer tokenizer = load_tokenizer(*c.tokenizer_path, "--tokenizer-path");
    require_asked_size(c, tokenizer, *c.tokenizer_path, "drop --vocab-size to use that tokenizer, or drop "
                       "--tokenizer-path to train one of the size asked");
    fmt::print("Tokenizer: loaded {} ({} tokens)\n", *c.tokenizer_path, with_thousands(tokenizer.vocab_size()));
    return {std::move(tokenizer), TokenizerSource::kLoaded};
  }
  const fs::path saved = fs::path(c.output_dir) / "tokenizer.json";
  std::error_code error;
  if (fs::exists(saved, error) && !c.retrain_tokenizer) {
    Tokenizer tokenizer = Tokenizer::load(saved.string());
    require_asked_size(c, tokenizer, saved.string(),
                       fmt::format("add --retrain-tokenizer to train a tokenizer of {} tokens, or drop --vocab-size "
                                   "to use this one",
                                   c.model.vocab_size));
    fmt::print("Tokenizer: reusing {} ({} tokens; --retrain-tokenizer trains a new one{})\n", saved.string(),
               with_thousands(tokenizer.vocab_size()),
               c.auto_vocab_size ? ", choosing its size with --auto-vocab-size" : "");
    return {std::move(tokenizer), TokenizerSource::kReused};
  }
  return train_tokenizer(c, model, in);
}

}  // namespace utt
