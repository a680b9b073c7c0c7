// The Parquet reader against files written by DuckDB and by parquet-wasm
// (tests/data/write_parquet_fixtures.mjs): every codec, page version and encoding reads back
// as exactly the text the writer was given.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "data/dataset_files.h"
#include "data/document_stream.h"
#include "data/parquet_census.h"
#include "test_paths.h"
#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

using Rows = std::vector<std::optional<std::string>>;

// Parquet enums (parquet.thrift).
constexpr int kPlain = 0, kPlainDictionary = 2, kDeltaLengthByteArray = 6, kDeltaByteArray = 7,
              kRleDictionary = 8;
constexpr int kUncompressed = 0, kSnappy = 1, kGzip = 2, kZstd = 6;

// Written once per test binary run.
const std::string& fixtures() {
  static const std::string dir = [] {
    const std::string modules = source_dir() + "/tests/tools/node_modules";
    for (const char* package : {"@duckdb/node-api", "parquet-wasm", "apache-arrow"}) {
      if (!std::filesystem::exists(modules + "/" + package)) {
        ADD_FAILURE() << modules << "/" << package << " is missing: run `scripts/setup --tests` "
                      << "(or `npm ci` in tests/tools) to install the test tools";
        return std::string();
      }
    }
    const std::string out = make_scratch_dir("parquet-fixtures");
    const std::string command = "node '" + source_dir() + "/tests/data/write_parquet_fixtures.mjs' '" +
                                modules + "' '" + out + "'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return out;
  }();
  return dir;
}

Rows expected(const std::string& name) {
  const nlohmann::json json = nlohmann::json::parse(read_file(fixtures() + "/" + name));
  Rows rows;
  for (const auto& value : json) {
    rows.push_back(value.is_null() ? std::nullopt : std::optional<std::string>(value.get<std::string>()));
  }
  return rows;
}

TEST(Parquet, EveryCodecVersionAndEncodingReadsBackAsDuckDbWroteIt) {
  ASSERT_FALSE(fixtures().empty());
  const Rows varied = expected("expected.json");
  const Rows repeated = expected("expected-dict.json");
  ASSERT_EQ(varied.size(), 5000u);
  for (const char* codec : {"uncompressed", "snappy", "gzip", "zstd"}) {
    for (const char* version : {"V1", "V2"}) {
      for (const char* dictionary : {"dict", "plain"}) {
        const std::string name = std::string(codec) + "-" + version + "-" + dictionary + ".parquet";
        const Rows rows = all_rows(fixtures() + "/" + name);
        EXPECT_EQ(rows, std::string(dictionary) == "dict" ? repeated : varied) << name;
      }
    }
  }
  EXPECT_EQ(all_rows(fixtures() + "/required-zstd.parquet"), expected("expected-required.json"));
  EXPECT_EQ(all_rows(fixtures() + "/nested-snappy.parquet"), varied);
  for (const char* codec : {"uncompressed", "snappy", "gzip", "zstd"}) {
    for (const char* dictionary : {"dict", "plain"}) {
      const std::string name = std::string("wasm-") + codec + "-" + dictionary + ".parquet";
      EXPECT_EQ(all_rows(fixtures() + "/" + name),
                std::string(dictionary) == "dict" ? repeated : varied) << name;
    }
  }
}

TEST(Parquet, TheFixturesCoverEveryEncodingCodecAndManyRowGroups) {
  ASSERT_FALSE(fixtures().empty());
  std::set<int> encodings, codecs;
  int64_t dictionary_pages = 0, v1_pages = 0, v2_pages = 0;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures())) {
    if (entry.path().extension() != ".parquet") continue;
    const ParquetPageCensus census = parquet_page_census(entry.path().string(), "text");
    EXPECT_GE(census.row_groups, 2) << entry.path();
    encodings.insert(census.value_encodings.begin(), census.value_encodings.end());
    codecs.insert(census.codecs.begin(), census.codecs.end());
    dictionary_pages += census.dictionary_pages;
    v1_pages += census.data_pages_v1;
    v2_pages += census.data_pages_v2;
  }
  EXPECT_EQ(encodings, (std::set<int>{kPlain, kPlainDictionary, kDeltaLengthByteArray, kDeltaByteArray,
                                      kRleDictionary}));
  EXPECT_EQ(codecs, (std::set<int>{kUncompressed, kSnappy, kGzip, kZstd}));
  EXPECT_GT(dictionary_pages, 0);
  EXPECT_GT(v1_pages, 0);
  EXPECT_GT(v2_pages, 0);
}

TEST(Parquet, ManyFilesReadAsOneSplitInOrder) {
  ASSERT_FALSE(fixtures().empty());
  const std::string dir = make_scratch_dir("parquet-shards");
  std::filesystem::copy_file(fixtures() + "/zstd-V1-dict.parquet", dir + "/train-00000-of-00002.parquet");
  std::filesystem::copy_file(fixtures() + "/wasm-snappy-plain.parquet", dir + "/train-00001-of-00002.parquet");
  DocumentStream stream(resolve_local_split(dir, std::nullopt, "train"), "text");
  std::vector<std::string> documents;
  std::string_view text;
  while (stream.next(text)) documents.emplace_back(text);
  std::vector<std::string> expected_documents;
  for (const Rows& rows : {expected("expected-dict.json"), expected("expected.json")}) {
    for (const auto& row : rows) {
      if (row && !row->empty()) expected_documents.push_back(*row);
    }
  }
  EXPECT_EQ(documents, expected_documents);
}

TEST(Parquet, AMissingColumnListsTheColumns) {
  ASSERT_FALSE(fixtures().empty());
  try {
    all_rows(fixtures() + "/zstd-V1-plain.parquet", "content");
    FAIL() << "no error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("the columns are id, text"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(all_rows(fixtures() + "/zstd-V1-plain.parquet", "id"), UserError);
  EXPECT_THROW(all_rows(fixtures() + "/nested-snappy.parquet", "meta"), UserError);
  EXPECT_THROW(all_rows(fixtures() + "/nested-snappy.parquet", "tags"), UserError);
}

TEST(Parquet, TruncatedAndCorruptFilesAreUserErrorsNeverCrashes) {
  ASSERT_FALSE(fixtures().empty());
  const std::string dir = make_scratch_dir("parquet-corrupt");
  for (const char* name : {"snappy-V1-dict.parquet", "zstd-V2-plain.parquet", "gzip-V1-plain.parquet"}) {
    const std::string bytes = read_file(fixtures() + "/" + name);
    write_file(dir + "/cut.parquet", bytes.substr(0, bytes.size() * 2 / 3));
    EXPECT_THROW(all_rows(dir + "/cut.parquet"), UserError) << name;
    // Flip bytes all over the data pages: every outcome but a crash is acceptable, and
    // the ones that decode must still be whole rows.
    for (size_t step = 7; step < bytes.size() / 2; step += bytes.size() / 41) {
      std::string broken = bytes;
      for (size_t i = 4; i + 8 < broken.size(); i += step) broken[i] = static_cast<char>(broken[i] ^ 0x5A);
      write_file(dir + "/broken.parquet", broken);
      try {
        all_rows(dir + "/broken.parquet");
      } catch (const UserError&) {
      }
    }
  }
  write_file(dir + "/empty.parquet", "");
  EXPECT_THROW(all_rows(dir + "/empty.parquet"), UserError);
}

}  // namespace
}  // namespace utt::test
