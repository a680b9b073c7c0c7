// The BPE tokenizer seen through the data stage's TokenEncoder seam. Documents are untrusted
// text: a literal "<|endoftext|>" inside one is encoded as text, so only the packer places
// document separators (Tokenizer::document_separators: UserError when it has none).
#pragma once

#include "data/token_encoder.h"
#include "tokenizer/tokenizer.h"

namespace utt {

class TokenizerEncoder final : public TokenEncoder {
 public:
  explicit TokenizerEncoder(const Tokenizer& tokenizer)
      : tokenizer_(tokenizer),
        framing_{tokenizer.document_separators().prefix, tokenizer.document_separators().suffix},
        fingerprint_(tokenizer.fingerprint() + "/specials-as-text") {}
  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    tokenizer_.encode(text, out, SpecialTokens::kTreatAsText);
  }
  const DocumentFraming& framing() const override { return framing_; }
  uint32_t vocab_size() const override { return tokenizer_.vocab_size(); }
  std::string fingerprint() const override { return fingerprint_; }

 private:
  const Tokenizer& tokenizer_;
  DocumentFraming framing_;
  std::string fingerprint_;
};

}  // namespace utt
