#include "io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace utt::safetensors {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swapping here");

// The reference reader's limit on the JSON header.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  Dtype dtype;
  std::string_view name;
  int bits;
};

constexpr std::array<DtypeName, 22> kDtypes = {{
    {Dtype::kBool, "BOOL", 8},        {Dtype::kF4, "F4", 4},
    {Dtype::kF6E2M3, "F6_E2M3", 6},   {Dtype::kF6E3M2, "F6_E3M2", 6},
    {Dtype::kU8, "U8", 8},            {Dtype::kI8, "I8", 8},
    {Dtype::kF8E5M2, "F8_E5M2", 8},   {Dtype::kF8E4M3, "F8_E4M3", 8},
    {Dtype::kF8E8M0, "F8_E8M0", 8},   {Dtype::kF8E4M3Fnuz, "F8_E4M3FNUZ", 8},
    {Dtype::kF8E5M2Fnuz, "F8_E5M2FNUZ", 8}, {Dtype::kI16, "I16", 16},
    {Dtype::kU16, "U16", 16},         {Dtype::kF16, "F16", 16},
    {Dtype::kBF16, "BF16", 16},       {Dtype::kI32, "I32", 32},
    {Dtype::kU32, "U32", 32},         {Dtype::kF32, "F32", 32},
    {Dtype::kC64, "C64", 64},         {Dtype::kF64, "F64", 64},
    {Dtype::kI64, "I64", 64},         {Dtype::kU64, "U64", 64},
}};

[[noreturn]] void corrupt(const std::string& source, const std::string& problem) {
  throw UserError(source + " is not a valid safetensors file: " + problem +
                  " (re-create or re-download the file)");
}

bool parse_dtype(const std::string& text, Dtype* dtype) {
  for (const DtypeName& entry : kDtypes) {
    if (entry.name == text) {
      *dtype = entry.dtype;
      return true;
    }
  }
  return false;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  std::memcpy(&value, p, sizeof value);
  return value;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf / NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {  // subnormal: normalize
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  } else {
    bits = sign;
  }
  return std::bit_cast<float>(bits);
}

}  // namespace

std::string_view to_string(Dtype dtype) { return kDtypes[static_cast<size_t>(dtype)].name; }
int dtype_bits(Dtype dtype) { return kDtypes[static_cast<size_t>(dtype)].bits; }

int64_t TensorInfo::element_count() const {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

File File::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError("cannot read " + path + ": " + std::strerror(errno));
  return parse(std::move(bytes), path);
}

File File::parse(std::vector<uint8_t> bytes, const std::string& source) {
  File file;
  file.source_ = source;
  file.bytes_ = std::move(bytes);
  const uint64_t size = file.bytes_.size();
  if (size < 8) corrupt(source, "header too small (" + std::to_string(size) + " bytes)");
  const uint64_t header_bytes = read_u64_le(file.bytes_.data());
  if (header_bytes > kMaxHeaderBytes) corrupt(source, "header too large");
  if (header_bytes > size - 8) corrupt(source, "header length runs past the end of the file");
  file.data_start_ = 8 + header_bytes;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.bytes_.begin() + 8, file.bytes_.begin() + 8 + header_bytes);
  } catch (const nlohmann::json::exception& e) {
    corrupt(source, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) corrupt(source, "header is not a JSON object");

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) corrupt(source, "__metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) corrupt(source, "__metadata__ value '" + meta_key + "' is not a string");
        file.metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) corrupt(source, "entry '" + key + "' is not an object");
    TensorInfo info;
    info.name = key;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string() || !parse_dtype(dtype->get<std::string>(), &info.dtype)) {
      corrupt(source, "tensor '" + key + "' has a missing or unknown dtype");
    }
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) corrupt(source, "tensor '" + key + "' has no shape");
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) corrupt(source, "tensor '" + key + "' has a non-integer dimension");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        corrupt(source, "tensor '" + key + "' has a dimension too large");
      }
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      corrupt(source, "tensor '" + key + "' has no valid data_offsets");
    }
    info.begin = (*offsets)[0].get<uint64_t>();
    info.end = (*offsets)[1].get<uint64_t>();
    file.tensors_.push_back(std::move(info));
  }

  std::stable_sort(file.tensors_.begin(), file.tensors_.end(),
                   [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  uint64_t expected_begin = 0;
  for (const TensorInfo& info : file.tensors_) {
    if (info.begin != expected_begin || info.end < info.begin) {
      corrupt(source, "invalid offset for tensor '" + info.name + "'");
    }
    // elements * bits, with overflow checks.
    uint64_t bits = static_cast<uint64_t>(dtype_bits(info.dtype));
    for (int64_t d : info.shape) {
      if (__builtin_mul_overflow(bits, static_cast<uint64_t>(d), &bits)) {
        corrupt(source, "tensor '" + info.name + "' is too large");
      }
    }
    if (bits % 8 != 0 || bits / 8 != info.end - info.begin) {
      corrupt(source, "invalid shape, data type, or offset for tensor '" + info.name + "'");
    }
    expected_begin = info.end;
  }
  if (expected_begin != size - file.data_start_) {
    corrupt(source, "the tensors cover " + std::to_string(expected_begin) + " data bytes but the file holds " +
                        std::to_string(size - file.data_start_) + " (truncated or trailing bytes)");
  }
  return file;
}

const TensorInfo* File::find(const std::string& name) const {
  for (const TensorInfo& info : tensors_) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const TensorInfo& File::at(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) throw UserError(source_ + " has no tensor named '" + name + "'");
  return *info;
}

std::vector<float> File::read_floats(const std::string& name) const {
  const TensorInfo& info = at(name);
  const int64_t n = info.element_count();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = data(info);
  switch (info.dtype) {
    case Dtype::kF32:
      std::memcpy(out.data(), p, static_cast<size_t>(n) * 4);
      break;
    case Dtype::kF64:
      for (int64_t i = 0; i < n; ++i) {
        double value = 0;
        std::memcpy(&value, p + i * 8, 8);
        out[i] = static_cast<float>(value);
      }
      break;
    case Dtype::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, p + i * 2, 2);
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
      }
      break;
    case Dtype::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, p + i * 2, 2);
        out[i] = half_to_float(h);
      }
      break;
    default:
      throw UserError(source_ + ": tensor '" + name + "' has dtype " + std::string(to_string(info.dtype)) +
                      ", expected a floating-point dtype (F32, F16, BF16 or F64)");
  }
  return out;
}

SerializedPieces serialize_pieces(const std::vector<TensorToWrite>& tensors,
                                  std::map<std::string, std::string> metadata) {
  if (metadata.find("format") == metadata.end()) metadata["format"] = "pt";
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    if (a->dtype != b->dtype) return static_cast<int>(a->dtype) > static_cast<int>(b->dtype);
    return a->name < b->name;
  });

  // nlohmann's ordered_json keeps insertion order: __metadata__ first, then tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) meta[key] = value;
  header["__metadata__"] = meta;
  uint64_t offset = 0;
  SerializedPieces pieces;
  for (const TensorToWrite* t : order) {
    uint64_t elements = 1;
    for (int64_t d : t->shape) {
      UTT_CHECK(d >= 0, "negative dimension in tensor " + t->name);
      elements *= static_cast<uint64_t>(d);
    }
    const uint64_t bits = elements * static_cast<uint64_t>(dtype_bits(t->dtype));
    UTT_CHECK(bits % 8 == 0, "tensor " + t->name + " does not fill whole bytes");
    pieces.data.emplace_back(static_cast<const char*>(t->data), bits / 8);
    header[t->name] = {{"dtype", std::string(to_string(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + bits / 8}}};
    offset += bits / 8;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t header_bytes = json.size();
  pieces.header.resize(8);
  std::memcpy(pieces.header.data(), &header_bytes, 8);
  pieces.header += json;
  return pieces;
}

std::vector<std::string_view> SerializedPieces::all() const {
  std::vector<std::string_view> views{header};
  views.insert(views.end(), data.begin(), data.end());
  return views;
}

std::vector<uint8_t> serialize(const std::vector<TensorToWrite>& tensors,
                               std::map<std::string, std::string> metadata) {
  const SerializedPieces pieces = serialize_pieces(tensors, std::move(metadata));
  size_t size = 0;
  for (std::string_view piece : pieces.all()) size += piece.size();
  std::vector<uint8_t> bytes;
  bytes.reserve(size);
  for (std::string_view piece : pieces.all()) bytes.insert(bytes.end(), piece.begin(), piece.end());
  return bytes;
}

void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                std::map<std::string, std::string> metadata) {
  const std::vector<uint8_t> bytes = serialize(tensors, std::move(metadata));
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw UserError("cannot create " + temporary + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      throw UserError("cannot write " + temporary + ": " + reason + " (free disk space and retry)");
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const std::string reason = std::strerror(synced ? errno : sync_errno);
    ::unlink(temporary.c_str());
    throw UserError("cannot write " + temporary + ": " + reason + " (free disk space and retry)");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw UserError("cannot rename " + temporary + " to " + path + ": " + reason);
  }
}

}  // namespace utt::safetensors
