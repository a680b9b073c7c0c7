// safetensors: one reader and one writer (see shared/reference/safetensors.md).
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data buffer. The reader
// checks everything the reference reader checks before any tensor data is used, and turns every
// violation into a UserError naming the file and the problem. The writer orders tensors as the
// reference writer does (dtype rank descending, then name), pads the header to a multiple of 8 and
// writes through a temporary file renamed over the target, so files round-trip byte-identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace utt::safetensors {

// In the reference crate's enum order: the writer's tensor order depends on it.
enum class Dtype {
  kBool, kF4, kF6E2M3, kF6E3M2, kU8, kI8, kF8E5M2, kF8E4M3, kF8E8M0, kF8E4M3Fnuz, kF8E5M2Fnuz,
  kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kC64, kF64, kI64, kU64
};

std::string_view to_string(Dtype dtype);
int dtype_bits(Dtype dtype);

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data buffer
  uint64_t end = 0;

  int64_t element_count() const;
};

// A whole file held in memory, validated on construction.
class File {
 public:
  // Throws UserError when the file cannot be read or is not valid safetensors.
  static File read(const std::string& path);
  // `source` names the bytes in error messages (a path, usually).
  static File parse(std::vector<uint8_t> bytes, const std::string& source);

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  // Throws UserError naming the missing tensor.
  const TensorInfo& at(const std::string& name) const;

  // The tensor's values as float: F32 as is, F16 and BF16 widened, F64 narrowed. Other dtypes
  // are refused with a UserError.
  std::vector<float> read_floats(const std::string& name) const;
  // The tensor's raw little-endian bytes.
  const uint8_t* data(const TensorInfo& info) const { return bytes_.data() + data_start_ + info.begin; }

 private:
  std::string source_;
  std::vector<uint8_t> bytes_;
  uint64_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // little-endian, row-major, element_count * bits / 8 bytes
};

// A file's contents as pieces to write in order: the 8-byte header length and the JSON header
// (owned here), then views of each tensor's data where it already lives (no copy of the tensors).
struct SerializedPieces {
  std::string header;
  std::vector<std::string_view> data;
  std::vector<std::string_view> all() const;  // header, then data
};
SerializedPieces serialize_pieces(const std::vector<TensorToWrite>& tensors,
                                  std::map<std::string, std::string> metadata = {});

// The complete file contents; metadata gets {"format":"pt"} unless it names a format.
std::vector<uint8_t> serialize(const std::vector<TensorToWrite>& tensors,
                               std::map<std::string, std::string> metadata = {});

// Writes `serialize(...)` to `path` through `path + ".tmp"` and a rename, fsynced. Throws
// UserError (naming the path and the system's reason) when it cannot.
void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                std::map<std::string, std::string> metadata = {});

}  // namespace utt::safetensors
