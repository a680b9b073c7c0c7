// A decoder for the Thrift compact protocol, as much as Parquet's footer and page headers
// need (apache/thrift doc/specs/thrift-compact-protocol.md). Every read is bounds-checked
// and nesting is capped, so a corrupt or hostile file gives a ParquetFormatError, never a
// read past the buffer or a stack overflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace utt {

// A malformed Parquet file; the reader turns it into a UserError naming the file.
class ParquetFormatError : public std::runtime_error {
 public:
  explicit ParquetFormatError(const std::string& message) : std::runtime_error(message) {}
};

namespace thrift {
enum Type : uint8_t {
  kStop = 0, kTrue = 1, kFalse = 2, kByte = 3, kI16 = 4, kI32 = 5, kI64 = 6, kDouble = 7,
  kBinary = 8, kList = 9, kSet = 10, kMap = 11, kStruct = 12, kUuid = 13
};
}  // namespace thrift

class CompactReader {
 public:
  CompactReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // Struct fields: call begin_struct(), then next_field() until it returns false (the stop
  // byte, which also ends the struct); read or skip each field's value by its type.
  void begin_struct();
  bool next_field(int16_t& id, uint8_t& type);

  int64_t read_int(uint8_t type);  // i8/i16/i32/i64
  bool read_bool(uint8_t type);    // the value is in the field type
  std::string read_binary();
  void read_list_header(uint8_t& element_type, int64_t& size);
  void skip(uint8_t type, int depth = 0);

  size_t offset() const { return offset_; }

 private:
  uint8_t byte();
  uint64_t varint();
  int64_t zigzag();
  void skip_element(uint8_t type, int depth);

  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
  std::vector<int16_t> last_field_ids_;
};

}  // namespace utt
