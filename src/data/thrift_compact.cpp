#include "data/thrift_compact.h"

namespace utt {
namespace {

// Parquet's structures nest a few levels deep; anything deeper is a corrupt file.
constexpr int kMaxDepth = 32;

}  // namespace

uint8_t CompactReader::byte() {
  if (offset_ >= size_) throw ParquetFormatError("metadata ends early (truncated Thrift data)");
  return data_[offset_++];
}

uint64_t CompactReader::varint() {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const uint8_t b = byte();
    value |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return value;
  }
  throw ParquetFormatError("varint longer than 64 bits in metadata");
}

int64_t CompactReader::zigzag() {
  const uint64_t n = varint();
  return static_cast<int64_t>((n >> 1) ^ (~(n & 1) + 1));
}

void CompactReader::begin_struct() {
  if (last_field_ids_.size() >= kMaxDepth) throw ParquetFormatError("metadata nested too deeply");
  last_field_ids_.push_back(0);
}

bool CompactReader::next_field(int16_t& id, uint8_t& type) {
  const uint8_t header = byte();
  if (header == thrift::kStop) {
    last_field_ids_.pop_back();
    return false;
  }
  type = header & 0x0F;
  const uint8_t delta = header >> 4;
  id = delta != 0 ? static_cast<int16_t>(last_field_ids_.back() + delta)
                  : static_cast<int16_t>(zigzag());
  last_field_ids_.back() = id;
  return true;
}

int64_t CompactReader::read_int(uint8_t type) {
  switch (type) {
    case thrift::kByte: return static_cast<int8_t>(byte());
    case thrift::kI16:
    case thrift::kI32:
    case thrift::kI64: return zigzag();
    default: throw ParquetFormatError("metadata field has type " + std::to_string(type) +
                                      " where an integer was expected");
  }
}

bool CompactReader::read_bool(uint8_t type) {
  if (type == thrift::kTrue) return true;
  if (type == thrift::kFalse) return false;
  throw ParquetFormatError("metadata field is not a boolean");
}

std::string CompactReader::read_binary() {
  const uint64_t length = varint();
  if (length > size_ - offset_) throw ParquetFormatError("string runs past the metadata");
  std::string text(reinterpret_cast<const char*>(data_ + offset_), length);
  offset_ += length;
  return text;
}

void CompactReader::read_list_header(uint8_t& element_type, int64_t& size) {
  const uint8_t header = byte();
  element_type = header & 0x0F;
  const uint64_t n = (header >> 4) == 15 ? varint() : (header >> 4);
  // Every element takes at least one byte (bools in lists too), which bounds the size.
  if (n > size_ - offset_) throw ParquetFormatError("list runs past the metadata");
  size = static_cast<int64_t>(n);
}

void CompactReader::skip_element(uint8_t type, int depth) {
  // Bools inside containers take one byte each (the value is not in a field header).
  if (type == thrift::kTrue || type == thrift::kFalse) {
    byte();
  } else {
    skip(type, depth);
  }
}

void CompactReader::skip(uint8_t type, int depth) {
  if (depth > kMaxDepth) throw ParquetFormatError("metadata nested too deeply");
  switch (type) {
    case thrift::kTrue:
    case thrift::kFalse: return;
    case thrift::kByte: byte(); return;
    case thrift::kI16:
    case thrift::kI32:
    case thrift::kI64: varint(); return;
    case thrift::kDouble:
      for (int i = 0; i < 8; ++i) byte();
      return;
    case thrift::kBinary: read_binary(); return;
    case thrift::kUuid:
      for (int i = 0; i < 16; ++i) byte();
      return;
    case thrift::kList:
    case thrift::kSet: {
      uint8_t element_type = 0;
      int64_t size = 0;
      read_list_header(element_type, size);
      for (int64_t i = 0; i < size; ++i) skip_element(element_type, depth + 1);
      return;
    }
    case thrift::kMap: {
      const uint64_t size = varint();
      if (size == 0) return;
      if (size > size_ - offset_) throw ParquetFormatError("map runs past the metadata");
      const uint8_t types = byte();
      for (uint64_t i = 0; i < size; ++i) {
        skip_element(types >> 4, depth + 1);
        skip_element(types & 0x0F, depth + 1);
      }
      return;
    }
    case thrift::kStruct: {
      begin_struct();
      int16_t id = 0;
      uint8_t field_type = 0;
      while (next_field(id, field_type)) skip(field_type, depth + 1);
      return;
    }
    default: throw ParquetFormatError("unknown Thrift type " + std::to_string(type));
  }
}

}  // namespace utt
