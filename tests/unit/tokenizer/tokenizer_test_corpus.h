// Small corpora and helpers shared by the tokenizer tests.
#pragma once

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe_train.h"

namespace utt::test {

// A DocumentSource over an in-memory list.
inline DocumentSource documents_from(const std::vector<std::string>& documents) {
  auto next = std::make_shared<size_t>(0);
  return [&documents, next](std::string_view& document) {
    if (*next >= documents.size()) return false;
    document = documents[(*next)++];
    return true;
  };
}

// English-like text with repeats, numbers, punctuation, newlines and some non-ASCII.
inline std::vector<std::string> small_corpus() {
  std::vector<std::string> documents;
  const std::vector<std::string> sentences = {
      "The quick brown fox jumps over the lazy dog.",
      "It's 2024, and we'll see 12345 numbers, don't we?",
      "Ünïcödé text: naïve café, 東京, привет мир!\n\nNew paragraph\ttab.",
      "   leading spaces and trailing   ",
      "The union is strong; the state of the union is strong.",
  };
  for (int i = 0; i < 40; ++i) {
    std::string document;
    for (size_t s = 0; s < sentences.size(); ++s) {
      document += sentences[(s + static_cast<size_t>(i)) % sentences.size()];
      document += i % 3 == 0 ? "\n" : " ";
    }
    documents.push_back(document + std::to_string(i * 7919));
  }
  return documents;
}

// Many distinct words (syllable combinations, Zipf-like frequencies), so training does not
// run out of pairs below a few thousand tokens. Fixed seed: always the same text.
inline std::vector<std::string> varied_corpus() {
  const std::vector<std::string> syllables = {"ka", "ro", "ne", "ti", "sul", "ma", "po", "re",
                                              "den", "li", "vo", "sa", "gra", "mi", "tho", "un",
                                              "es", "ba", "qui", "lo", "fer", "an", "du", "zi"};
  std::mt19937 random(11);
  std::vector<std::string> documents;
  for (int d = 0; d < 150; ++d) {
    std::string document;
    for (int w = 0; w < 120; ++w) {
      // Squaring a uniform index makes the first syllables far more common.
      auto pick = [&] {
        const double u = static_cast<double>(random() % 10000) / 10000.0;
        return syllables[static_cast<size_t>(u * u * static_cast<double>(syllables.size()))];
      };
      std::string word;
      for (unsigned k = 0; k <= random() % 3; ++k) word += pick();
      document += (w % 15 == 0 ? ". " : " ") + word;
    }
    documents.push_back(document);
  }
  return documents;
}

inline Tokenizer train_small(uint32_t vocab_size, PretokenizerKind kind = PretokenizerKind::kCl100k,
                             int threads = 1) {
  const std::vector<std::string> corpus = small_corpus();
  BpeTrainOptions options;
  options.vocab_size = vocab_size;
  options.pretokenizer = kind;
  options.threads = threads;
  return train_bpe(documents_from(corpus), options);
}

}  // namespace utt::test
