// The safetensors reader and writer: round trips, the reference writer's byte layout, and a clear
// UserError for every kind of corrupt file.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "test_paths.h"
#include "util/error.h"

namespace utt::safetensors {
namespace {

std::vector<uint8_t> with_header(const std::string& json, size_t data_bytes) {
  std::vector<uint8_t> bytes(8 + json.size() + data_bytes, 0);
  const uint64_t n = json.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, json.data(), json.size());
  return bytes;
}

std::string parse_error(std::vector<uint8_t> bytes) {
  try {
    File::parse(std::move(bytes), "x.safetensors");
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, WriterMatchesTheReferenceExampleByteForByte) {
  const float w[2] = {1.0f, 2.0f};
  const std::vector<uint8_t> bytes = serialize({{"w", Dtype::kF32, {2}, w}});
  const std::string json = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(bytes.size(), 104u);
  EXPECT_EQ(bytes[0], 88);
  EXPECT_EQ(std::string(bytes.begin() + 8, bytes.begin() + 8 + 85), json);
  EXPECT_EQ(std::string(bytes.begin() + 93, bytes.begin() + 96), "   ");
  const std::vector<uint8_t> data = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40};
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 96, bytes.end()), data);
}

TEST(Safetensors, RoundTripsTensorsMetadataAndOrder) {
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const float scalar[1] = {7};
  const int64_t counter[1] = {42};
  const uint16_t half[2] = {0x3c00, 0xc000};   // 1.0, -2.0 in F16
  const uint16_t bf16[2] = {0x3f80, 0x4040};   // 1.0, 3.0 in BF16
  const std::vector<uint8_t> bytes = serialize(
      {{"b.weight", Dtype::kF32, {2, 3}, a}, {"a.scalar", Dtype::kF32, {}, scalar},
       {"step", Dtype::kI64, {1}, counter}, {"h", Dtype::kF16, {2}, half}, {"g", Dtype::kBF16, {2}, bf16},
       {"empty", Dtype::kF32, {0, 4}, nullptr}},
      {{"note", "hello"}});
  const File file = File::parse(bytes, "mem");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "hello");
  // The reference writer's order: I64 first, then F32 by name, then BF16, then F16.
  std::vector<std::string> names;
  for (const TensorInfo& t : file.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"step", "a.scalar", "b.weight", "empty", "g", "h"}));
  EXPECT_EQ(file.read_floats("b.weight"), std::vector<float>(a, a + 6));
  EXPECT_EQ(file.read_floats("a.scalar"), std::vector<float>{7});
  EXPECT_EQ(file.read_floats("h"), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(file.read_floats("g"), (std::vector<float>{1.0f, 3.0f}));
  EXPECT_TRUE(file.read_floats("empty").empty());
  EXPECT_EQ(file.at("b.weight").shape, (std::vector<int64_t>{2, 3}));
  int64_t step = 0;
  std::memcpy(&step, file.data(file.at("step")), 8);
  EXPECT_EQ(step, 42);
  EXPECT_THROW(file.read_floats("step"), UserError);
  EXPECT_THROW(file.at("missing"), UserError);
  EXPECT_EQ(serialize({{"b.weight", Dtype::kF32, {2, 3}, a}}).size() % 8, 0u);
}

TEST(Safetensors, WritesThroughATemporaryFileAndReadsBack) {
  const std::string path = std::string(UTT_BINARY_DIR) + "/safetensors_test_roundtrip.safetensors";
  const float w[3] = {0.5f, -1.5f, 3.25f};
  write_file(path, {{"w", Dtype::kF32, {3}, w}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(File::read(path).read_floats("w"), std::vector<float>(w, w + 3));
  std::filesystem::remove(path);
  EXPECT_THROW(File::read(path), UserError);
}

TEST(Safetensors, RefusesCorruptFilesWithAMessageNamingTheProblem) {
  EXPECT_NE(parse_error({1, 2, 3}).find("header too small"), std::string::npos);
  std::vector<uint8_t> huge(16, 0);
  huge[5] = 1;  // N = 2^40
  EXPECT_NE(parse_error(huge).find("header too large"), std::string::npos);
  std::vector<uint8_t> past_end(16, 0);
  past_end[0] = 100;
  EXPECT_NE(parse_error(past_end).find("past the end"), std::string::npos);
  EXPECT_NE(parse_error(with_header("{not json", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4))
                .find("unknown dtype"), std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4))
                .find("invalid shape"), std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8))
                .find("invalid offset"), std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 5))
                .find("trailing"), std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"__metadata__":{"n":1}})", 0)).find("not a string"),
            std::string::npos);
  EXPECT_NE(parse_error(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .find("non-integer"), std::string::npos);
  // Every truncation of a valid file is refused, never read out of bounds.
  const float w[4] = {1, 2, 3, 4};
  const std::vector<uint8_t> good = serialize({{"w", Dtype::kF32, {4}, w}});
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + n)).empty()) << n;
  }
}

TEST(Safetensors, RandomlyCorruptedFilesParseOrFailWithAUserErrorNeverAnythingElse) {
  const float w[6] = {1, 2, 3, 4, 5, 6};
  const int64_t step[1] = {7};
  const std::vector<uint8_t> good =
      serialize({{"w", Dtype::kF32, {2, 3}, w}, {"step", Dtype::kI64, {1}, step}}, {{"k", "v"}});
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    try {
      const File file = File::parse(std::move(bytes), "fuzz");
      for (const TensorInfo& t : file.tensors()) {
        if (t.dtype == Dtype::kF32 || t.dtype == Dtype::kF16 || t.dtype == Dtype::kBF16) {
          EXPECT_EQ(static_cast<int64_t>(file.read_floats(t.name).size()), t.element_count());
        }
      }
    } catch (const UserError&) {
      // The expected outcome for most corruptions.
    }
  }
}

TEST(Safetensors, ReadsTheOracleWeights) {
  const File file = File::read(test::oracle_dir() + "/llama/weights.safetensors");
  EXPECT_EQ(file.at("tok_embeddings.weight").shape, (std::vector<int64_t>{97, 32}));
  EXPECT_EQ(file.read_floats("layers.1.attention.wq.weight").size(), 32u * 32u);
}

}  // namespace
}  // namespace utt::safetensors
