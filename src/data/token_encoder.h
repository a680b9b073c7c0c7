// TokenEncoder: the seam between the data stage and the tokenizer. The data stage only needs
// text -> ids, the tokens that separate documents, the vocabulary size (to choose the cache's
// token width) and a fingerprint (to key the cache). ByteEncoder is the one built in: it needs
// no training, so `utt data stats` and the tests run without a tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

// The tokens the packer puts around every document: end of text after it for utt's own
// tokenizers, a third-party tokenizer's template otherwise (Llama-3: <|begin_of_text|> before).
struct DocumentFraming {
  std::vector<uint32_t> prefix;
  std::vector<uint32_t> suffix;
  int64_t size() const { return static_cast<int64_t>(prefix.size() + suffix.size()); }
};

class TokenEncoder {
 public:
  virtual ~TokenEncoder() = default;
  // Appends the ids of `text` to `out`. Must be callable from several threads at once.
  virtual void encode(std::string_view text, std::vector<uint32_t>& out) const = 0;
  virtual const DocumentFraming& framing() const = 0;
  virtual uint32_t vocab_size() const = 0;
  // Changes whenever encode() could give different ids for the same text.
  virtual std::string fingerprint() const = 0;
};

// ids = the UTF-8 bytes 0..255, end of text = 256, vocabulary 257.
class ByteEncoder final : public TokenEncoder {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    out.reserve(out.size() + text.size());
    for (char c : text) out.push_back(static_cast<unsigned char>(c));
  }
  const DocumentFraming& framing() const override { return framing_; }
  uint32_t vocab_size() const override { return 257; }
  std::string fingerprint() const override { return "bytes-v1"; }
  static constexpr uint32_t kEndOfText = 256;

 private:
  DocumentFraming framing_{{}, {kEndOfText}};
};

}  // namespace utt
