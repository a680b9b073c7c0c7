// BPE training: count the distinct pieces of the corpus (in parallel, never keeping the
// text), then merge the most frequent adjacent pair again and again, updating the pair
// counts of only the words that contain it.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace utt {

// Calls it until it returns false; each call sets its argument to the next document, which
// must stay valid only until the next call.
using DocumentSource = std::function<bool(std::string_view&)>;

struct BpeTrainOptions {
  uint32_t vocab_size = 16000;  // all ids: 256 bytes + merges + 2 special tokens
  PretokenizerKind pretokenizer = PretokenizerKind::kCl100k;
  int threads = 0;  // 0: every core
};

// Smallest vocabulary worth training: the bytes and the special tokens.
inline constexpr uint32_t kMinVocabSize = 256 + 2;

// Deterministic: the same documents and options give the same tokenizer, whatever the
// thread count. Ties between equally frequent pairs go to the smaller (left, right) ids, as
// in HF's trainer. Throws UserError on an empty corpus or a vocabulary below kMinVocabSize.
Tokenizer train_bpe(const DocumentSource& next_document, const BpeTrainOptions& options);

}  // namespace utt
