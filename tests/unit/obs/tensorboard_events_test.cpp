// TensorBoard event files: the CRC-32C and its mask against the check values of the format's
// reference implementations, the encoder against bytes decoded by protobufjs
// (shared/reference/tensorboard-events.md), the framing, and cutting a resumed run's files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "obs/crc32c.h"
#include "obs/tensorboard_events.h"
#include "obs/tensorboard_log.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("utt_tb_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The steps of the scalar events of a file, in order.
std::vector<int64_t> scalar_steps(const fs::path& file) {
  const std::string data = read_all(file);
  std::vector<int64_t> steps;
  for (const FramedRecord& record : read_framed_records(data).records) {
    const auto header = decode_event_header(record.data);
    if (header && header->has_summary) steps.push_back(header->step);
  }
  return steps;
}

TEST(Crc32c, MatchesTheCastagnoliCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, MaskedValueMatchesTensorBoardsOwnTestVector) {
  const std::string data = bytes({0x1a, 0x11}) + "CRC test, one two";
  EXPECT_EQ(mask_crc32c(crc32c(data.data(), data.size())), 0x5794D08Au);
}

TEST(TensorBoardEvents, FileVersionEventAndRecordAreTheReferenceBytes) {
  const std::string event = encode_file_version_event(1700000000.0);
  EXPECT_EQ(event, bytes({0x09, 0x00, 0x00, 0x00, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x1a, 0x0d}) + "brain.Event:2");
  EXPECT_EQ(frame_record(event), bytes({0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22}) + event +
                                     bytes({0xec, 0xed, 0x8f, 0x9d}));
}

TEST(TensorBoardEvents, ScalarEventAndRecordAreTheReferenceBytes) {
  const std::string event = encode_scalars_event(1700000001.5, 100, {{"train/loss", 2.5f}});
  EXPECT_EQ(event, bytes({0x09, 0x00, 0x00, 0x60, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x64, 0x2a, 0x13, 0x0a, 0x11,
                          0x0a, 0x0a}) +
                       "train/loss" + bytes({0x15, 0x00, 0x00, 0x20, 0x40}));
  EXPECT_EQ(frame_record(event), bytes({0x20, 0, 0, 0, 0, 0, 0, 0, 0x29, 0xed, 0xa9, 0x50}) + event +
                                     bytes({0xa6, 0xe3, 0x01, 0xf2}));
}

TEST(TensorBoardEvents, HeadersDecodeAndMalformedEventsAreRejected) {
  const auto scalars = decode_event_header(encode_scalars_event(1.0, 300, {{"a", 1}, {"b/c", 2}}));
  ASSERT_TRUE(scalars);
  EXPECT_EQ(scalars->step, 300);
  EXPECT_TRUE(scalars->has_summary);
  EXPECT_FALSE(scalars->has_file_version);
  const auto start = decode_event_header(encode_session_start_event(1.0, 11));
  ASSERT_TRUE(start);
  EXPECT_EQ(start->step, 11);
  EXPECT_TRUE(start->has_session_log);
  const auto version = decode_event_header(encode_file_version_event(1.0));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->step, 0);
  EXPECT_TRUE(version->has_file_version);
  // A prefix of an event is a well-formed message where it ends between two fields (after
  // wall_time: 9 bytes; after the step: 12) and is rejected everywhere else (the lengths are
  // checked, never trusted).
  const std::string event = encode_scalars_event(1.0, 300, {{"train/loss", 2.5f}});
  for (size_t size = 1; size < event.size(); ++size) {
    EXPECT_EQ(decode_event_header(event.substr(0, size)).has_value(), size == 9 || size == 12)
        << "prefix of " << size << " bytes";
  }
  EXPECT_FALSE(decode_event_header(bytes({0x0b})));  // wire type 3 (group)
  EXPECT_FALSE(decode_event_header(std::string(11, '\xff')));  // an endless varint
}

TEST(TensorBoardEvents, RecordsAreReadUpToACutShortOrDamagedOne) {
  const std::string a = frame_record(encode_scalars_event(1.0, 5, {{"x", 1}}));
  const std::string b = frame_record(encode_scalars_event(2.0, 10, {{"x", 2}}));
  const FramedRecords whole = read_framed_records(a + b);
  ASSERT_EQ(whole.records.size(), 2u);
  EXPECT_EQ(whole.records[1].offset, a.size());
  EXPECT_EQ(whole.intact_bytes, a.size() + b.size());
  for (size_t cut = 1; cut < b.size(); ++cut) {
    const FramedRecords partial = read_framed_records(a + b.substr(0, cut));
    EXPECT_EQ(partial.records.size(), 1u) << cut;
    EXPECT_EQ(partial.intact_bytes, a.size()) << cut;
  }
  for (size_t flip = 0; flip < b.size(); ++flip) {
    std::string damaged = a + b;
    damaged[a.size() + flip] = static_cast<char>(damaged[a.size() + flip] ^ 0x01);
    EXPECT_EQ(read_framed_records(damaged).records.size(), 1u) << "byte " << flip << " flipped";
  }
}

TEST(TensorBoardLog, WritesAVersionEventAStartAndOneFlushedRecordPerCall) {
  const fs::path dir = scratch("write");
  TensorBoardLog log(dir / "runs", 1);
  log.write_scalars(5, {{"train/loss", 3.0f}, {"train/learning_rate", 1e-3f}});
  // Flushed: another reader sees the record while the log is still open.
  const std::string data = read_all(log.path());
  const FramedRecords framed = read_framed_records(data);
  ASSERT_EQ(framed.records.size(), 3u);
  EXPECT_EQ(framed.intact_bytes, data.size());
  EXPECT_TRUE(decode_event_header(framed.records[0].data)->has_file_version);
  EXPECT_TRUE(decode_event_header(framed.records[1].data)->has_session_log);
  EXPECT_EQ(decode_event_header(framed.records[2].data)->step, 5);
  EXPECT_EQ(log.path().filename().string().rfind("events.out.tfevents.", 0), 0u);
  fs::remove_all(dir);
}

TEST(TensorBoardLog, ANewProcessesFileSortsAfterTheEarlierOnes) {
  const fs::path dir = scratch("order");
  // A file from the future (a clock set back, or restarts within one second).
  std::ofstream(dir / "events.out.tfevents.9999999990.host.1.0") << "";
  TensorBoardLog log(dir, 1);
  EXPECT_EQ(log.path().filename().string().rfind("events.out.tfevents.9999999991.", 0), 0u) << log.path();
  EXPECT_EQ(list_event_files(dir).back(), log.path());
  fs::remove_all(dir);
}

TEST(TensorBoardLog, ResumeDropsEventsPastTheCheckpointAndFilesLeftEmpty) {
  const fs::path dir = scratch("drop");
  fs::path first;
  fs::path second;
  {
    TensorBoardLog log(dir, 1);
    for (int64_t step : {5, 10, 15, 20}) log.write_scalars(step, {{"train/loss", 1}});
    first = log.path();
  }
  {
    TensorBoardLog log(dir, 21);  // a later process that got past step 20
    log.write_scalars(25, {{"train/loss", 1}});
    second = log.path();
  }
  // And a record cut short by a kill, at the end of the second file.
  const std::string extra = frame_record(encode_scalars_event(3.0, 30, {{"train/loss", 1}}));
  std::ofstream(second, std::ios::app | std::ios::binary) << extra.substr(0, extra.size() / 2);

  // 15, 20 of the first file; the START at 21 and 25 of the second (the cut record is not an event).
  EXPECT_EQ(drop_events_after(dir, 10), 4);
  EXPECT_EQ(scalar_steps(first), (std::vector<int64_t>{5, 10}));
  EXPECT_FALSE(fs::exists(second)) << "a file left with only its version record stays";
  EXPECT_EQ(read_framed_records(read_all(first)).intact_bytes, fs::file_size(first));
  EXPECT_EQ(drop_events_after(dir, 10), 0);  // nothing left to drop
  EXPECT_EQ(drop_events_after(dir, 0), 3);   // the START at step 1 goes too
  EXPECT_TRUE(list_event_files(dir).empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace utt
