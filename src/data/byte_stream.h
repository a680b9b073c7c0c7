// Sequential reading of a local file, decompressing .gz (RFC 1952, concatenated members
// accepted) and .zst (zstd frames) on the fly, so a large compressed file never sits whole in
// memory. Corrupt or truncated input is a UserError naming the file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace utt {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `capacity` bytes into `buffer`; returns 0 only at the end of the data.
  virtual size_t read(char* buffer, size_t capacity) = 0;
};

enum class Compression { none, gzip, zstd };

// From the file name: "x.jsonl.gz" -> gzip, "x.txt.zst" -> zstd, anything else -> none.
Compression compression_of(const std::string& path);

// The name without the compression suffix: "x.jsonl.gz" -> "x.jsonl".
std::string without_compression_suffix(const std::string& path);

std::unique_ptr<ByteStream> open_byte_stream(const std::string& path);

// Splits a ByteStream into lines ('\n'; a trailing '\r' is dropped, as Python's text mode
// does). A line's view stays valid until the next call.
class LineReader {
 public:
  explicit LineReader(std::unique_ptr<ByteStream> stream);
  bool next(std::string& line);
  int64_t line_number() const { return line_number_; }

 private:
  std::unique_ptr<ByteStream> stream_;
  std::string buffer_;
  size_t begin_ = 0;
  bool at_end_ = false;
  int64_t line_number_ = 0;
};

}  // namespace utt
