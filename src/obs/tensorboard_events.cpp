#include "obs/tensorboard_events.h"

#include <cstring>

#include "obs/crc32c.h"

namespace utt {
namespace {

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

// Event fields.
constexpr uint32_t kEventWallTime = 1;
constexpr uint32_t kEventStep = 2;
constexpr uint32_t kEventFileVersion = 3;
constexpr uint32_t kEventSummary = 5;
constexpr uint32_t kEventSessionLog = 7;
// Summary, Summary.Value and SessionLog fields.
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1;
constexpr uint32_t kValueSimpleValue = 2;
constexpr uint32_t kSessionLogStatus = 1;
constexpr uint64_t kSessionLogStart = 1;

constexpr const char* kFileVersion = "brain.Event:2";

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, uint32_t field, uint32_t wire_type) { put_varint(out, (field << 3) | wire_type); }

template <class T>
void put_little_endian(std::string& out, T value) {
  // x86-64 and every platform utt builds on is little-endian, as the format is.
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_bytes_field(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// wall_time and, when not the proto3 default, step: the fields every event starts with.
std::string event_start(double wall_time, std::optional<int64_t> step) {
  std::string event;
  put_key(event, kEventWallTime, kFixed64);
  put_little_endian(event, wall_time);
  if (step && *step != 0) {
    put_key(event, kEventStep, kVarint);
    put_varint(event, static_cast<uint64_t>(*step));
  }
  return event;
}

// A bounds-checked cursor over protobuf bytes.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ == bytes_.size(); }

  std::optional<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) return std::nullopt;
      const auto byte = static_cast<uint8_t>(bytes_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;  // more than 10 bytes
  }
  std::optional<std::string_view> take(uint64_t size) {
    if (size > bytes_.size() - pos_) return std::nullopt;
    const std::string_view part = bytes_.substr(pos_, size);
    pos_ += size;
    return part;
  }
  // Skips or returns (for length-delimited fields) one value of `wire_type`.
  std::optional<std::string_view> value(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: return varint() ? std::optional<std::string_view>(std::string_view()) : std::nullopt;
      case kFixed64: return take(8);
      case kFixed32: return take(4);
      case kLengthDelimited: {
        const std::optional<uint64_t> size = varint();
        if (!size) return std::nullopt;
        return take(*size);
      }
      default: return std::nullopt;  // groups (3, 4) are not used by these messages
    }
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

uint64_t read_u64(std::string_view bytes, size_t at) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;
}

uint32_t read_u32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  std::string event = event_start(wall_time, std::nullopt);
  put_bytes_field(event, kEventFileVersion, kFileVersion);
  return event;
}

std::string encode_scalars_event(double wall_time, int64_t step, const std::vector<TensorBoardScalar>& scalars) {
  std::string summary;
  for (const TensorBoardScalar& scalar : scalars) {
    std::string value;
    put_bytes_field(value, kValueTag, scalar.tag);
    put_key(value, kValueSimpleValue, kFixed32);
    put_little_endian(value, scalar.value);
    put_bytes_field(summary, kSummaryValue, value);
  }
  std::string event = event_start(wall_time, step);
  put_bytes_field(event, kEventSummary, summary);
  return event;
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_key(session_log, kSessionLogStatus, kVarint);
  put_varint(session_log, kSessionLogStart);
  std::string event = event_start(wall_time, step);
  put_bytes_field(event, kEventSessionLog, session_log);
  return event;
}

std::string frame_record(std::string_view event) {
  std::string record;
  record.reserve(event.size() + 16);
  put_little_endian(record, static_cast<uint64_t>(event.size()));
  put_little_endian(record, mask_crc32c(crc32c(record.data(), 8)));
  record.append(event);
  put_little_endian(record, mask_crc32c(crc32c(event.data(), event.size())));
  return record;
}

std::optional<EventHeader> decode_event_header(std::string_view event) {
  EventHeader header;
  WireReader reader(event);
  while (!reader.done()) {
    const std::optional<uint64_t> key = reader.varint();
    if (!key) return std::nullopt;
    const auto field = static_cast<uint32_t>(*key >> 3);
    const auto wire_type = static_cast<uint32_t>(*key & 7);
    if (field == kEventStep && wire_type == kVarint) {
      const std::optional<uint64_t> step = reader.varint();
      if (!step) return std::nullopt;
      header.step = static_cast<int64_t>(*step);
      continue;
    }
    if (!reader.value(wire_type)) return std::nullopt;
    header.has_file_version |= field == kEventFileVersion;
    header.has_summary |= field == kEventSummary;
    header.has_session_log |= field == kEventSessionLog;
  }
  return header;
}

FramedRecords read_framed_records(std::string_view bytes) {
  constexpr size_t kHeaderBytes = 12;  // length + its CRC
  constexpr size_t kFooterBytes = 4;   // the data's CRC
  FramedRecords result;
  size_t pos = 0;
  while (bytes.size() - pos >= kHeaderBytes) {
    const uint64_t length = read_u64(bytes, pos);
    if (read_u32(bytes, pos + 8) != mask_crc32c(crc32c(bytes.data() + pos, 8))) break;
    if (length > bytes.size() - pos - kHeaderBytes || bytes.size() - pos - kHeaderBytes - length < kFooterBytes) {
      break;  // cut short
    }
    const std::string_view data = bytes.substr(pos + kHeaderBytes, length);
    if (read_u32(bytes, pos + kHeaderBytes + length) != mask_crc32c(crc32c(data.data(), data.size()))) break;
    const size_t end = pos + kHeaderBytes + length + kFooterBytes;
    result.records.push_back({pos, end, data});
    pos = end;
  }
  result.intact_bytes = pos;
  return result;
}

}  // namespace utt
