// TensorBoard event files: TFRecord framing around hand-encoded `tensorboard.Event` protobufs
// (shared/reference/tensorboard-events.md has the format facts; field names here are the
// protos'). Pure byte work, no I/O: the writer of these bytes is obs/tensorboard_log.h.
//
// A record: u64 LE length, u32 LE masked CRC-32C of those 8 bytes, the data, u32 LE masked
// CRC-32C of the data. The data is one serialized Event.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace utt {

struct TensorBoardScalar {
  std::string tag;  // "train/loss": TensorBoard groups tags by the part before '/'
  float value = 0;  // Summary.Value.simple_value is a 32-bit float
};

// Event{wall_time, file_version = "brain.Event:2"}: the first record of every file. Version 2
// tells the loaders to handle restarts by SessionLog.START rather than by steps going back.
std::string encode_file_version_event(double wall_time);

// Event{wall_time, step, summary{value{tag, simple_value}...}}.
std::string encode_scalars_event(double wall_time, int64_t step, const std::vector<TensorBoardScalar>& scalars);

// Event{wall_time, step, session_log{status = START}}: TensorBoard's loader drops points it
// already holds at or past `step` when it sees this (after the first START of a run).
std::string encode_session_start_event(double wall_time, int64_t step);

// The TFRecord framing of one event.
std::string frame_record(std::string_view event);

// What a reader needs of an Event to cut a file at a step.
struct EventHeader {
  int64_t step = 0;  // 0 when omitted (proto3 default)
  bool has_file_version = false;
  bool has_summary = false;
  bool has_session_log = false;
};

// Decodes the top-level fields of an Event; nullopt when the bytes are not a well-formed
// protobuf message (every length is checked against the data).
std::optional<EventHeader> decode_event_header(std::string_view event);

struct FramedRecord {
  uint64_t offset = 0;  // of the record's first byte in the file
  uint64_t end = 0;     // one past its last byte
  std::string_view data;
};

// The records of a file's bytes, in order, up to the first one that is cut short or fails a
// CRC check; `intact_bytes` is where that one starts (the file's size when all are whole).
struct FramedRecords {
  std::vector<FramedRecord> records;
  uint64_t intact_bytes = 0;
};
FramedRecords read_framed_records(std::string_view bytes);

}  // namespace utt
