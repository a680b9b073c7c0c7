#include "data/parquet_delta.h"

#include "data/thrift_compact.h"

namespace utt::parquet {
namespace {

// Caps from the writers' practice (block 128, 4 miniblocks); far larger values are corrupt
// and would otherwise let a hostile header demand huge allocations.
constexpr uint64_t kMaxBlockValues = 1 << 16;
constexpr uint64_t kMaxMiniblocks = 1 << 10;
constexpr uint64_t kMaxValues = uint64_t{1} << 31;

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t uleb() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return value;
    }
    throw ParquetFormatError("delta varint longer than 64 bits");
  }
  int64_t zigzag() {
    const uint64_t n = uleb();
    return static_cast<int64_t>((n >> 1) ^ (~(n & 1) + 1));
  }
  uint8_t byte() {
    if (at_ >= size_) throw ParquetFormatError("delta-encoded data past the page");
    return data_[at_++];
  }
  const uint8_t* take(size_t n) {
    if (n > size_ - at_) throw ParquetFormatError("delta-encoded data past the page");
    const uint8_t* p = data_ + at_;
    at_ += n;
    return p;
  }
  size_t offset() const { return at_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace

size_t decode_delta_binary_packed(const uint8_t* data, size_t size, std::vector<int64_t>& out) {
  ByteCursor in(data, size);
  const uint64_t block_size = in.uleb();
  const uint64_t miniblocks = in.uleb();
  const uint64_t total = in.uleb();
  int64_t value = in.zigzag();
  if (block_size == 0 || block_size > kMaxBlockValues || block_size % 128 != 0 ||
      miniblocks == 0 || miniblocks > kMaxMiniblocks || block_size % miniblocks != 0 ||
      (block_size / miniblocks) % 32 != 0 || total > kMaxValues) {
    throw ParquetFormatError("bad DELTA_BINARY_PACKED header");
  }
  const uint64_t per_miniblock = block_size / miniblocks;
  out.clear();
  if (total == 0) return in.offset();
  out.reserve(static_cast<size_t>(std::min<uint64_t>(total, size * 8 + 1)));
  out.push_back(value);
  std::vector<uint8_t> widths(static_cast<size_t>(miniblocks));
  while (out.size() < total) {
    const int64_t min_delta = in.zigzag();
    for (uint8_t& width : widths) width = in.byte();
    for (uint64_t m = 0; m < miniblocks && out.size() < total; ++m) {
      const uint8_t width = widths[m];
      if (width > 64) throw ParquetFormatError("DELTA_BINARY_PACKED bit width over 64");
      const uint8_t* packed = in.take(static_cast<size_t>(per_miniblock * width / 8));
      for (uint64_t k = 0; k < per_miniblock && out.size() < total; ++k) {
        uint64_t delta = 0;
        const uint64_t bit = k * width;
        for (uint8_t b = 0; b < width; ++b) {
          const uint64_t at = bit + b;
          delta |= static_cast<uint64_t>((packed[at / 8] >> (at % 8)) & 1) << b;
        }
        // Wrapping arithmetic, as the spec defines it.
        value = static_cast<int64_t>(static_cast<uint64_t>(value) +
                                     static_cast<uint64_t>(min_delta) + delta);
        out.push_back(value);
      }
    }
  }
  return in.offset();
}

void decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t count,
                                    std::vector<std::string_view>& out) {
  std::vector<int64_t> lengths;
  size_t at = decode_delta_binary_packed(data, size, lengths);
  if (lengths.size() < count) throw ParquetFormatError("fewer string lengths than values");
  out.clear();
  for (size_t i = 0; i < count; ++i) {
    const int64_t length = lengths[i];
    if (length < 0 || static_cast<uint64_t>(length) > size - at) {
      throw ParquetFormatError("DELTA_LENGTH_BYTE_ARRAY value past the page");
    }
    out.emplace_back(reinterpret_cast<const char*>(data + at), static_cast<size_t>(length));
    at += static_cast<size_t>(length);
  }
}

void decode_delta_byte_array(const uint8_t* data, size_t size, size_t count,
                             std::string& storage, std::vector<std::string_view>& out) {
  std::vector<int64_t> prefixes;
  const size_t at = decode_delta_binary_packed(data, size, prefixes);
  if (prefixes.size() < count) throw ParquetFormatError("fewer prefix lengths than values");
  std::vector<std::string_view> suffixes;
  decode_delta_length_byte_array(data + at, size - at, count, suffixes);
  // Build all values in one buffer first (views taken after, so growth cannot move them).
  std::vector<std::pair<size_t, size_t>> spans;
  storage.clear();
  size_t previous_begin = 0, previous_length = 0;
  for (size_t i = 0; i < count; ++i) {
    const int64_t prefix = prefixes[i];
    if (prefix < 0 || static_cast<uint64_t>(prefix) > previous_length) {
      throw ParquetFormatError("DELTA_BYTE_ARRAY prefix longer than the previous value");
    }
    const size_t begin = storage.size();
    storage.append(storage, previous_begin, static_cast<size_t>(prefix));
    storage.append(suffixes[i]);
    previous_begin = begin;
    previous_length = storage.size() - begin;
    spans.emplace_back(begin, previous_length);
  }
  out.clear();
  for (const auto& [begin, length] : spans) out.emplace_back(storage.data() + begin, length);
}

}  // namespace utt::parquet
