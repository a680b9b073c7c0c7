// Text and JSON sources, plain and compressed: what each row reads as.
#include <gtest/gtest.h>

#include <cmath>

#include "data/dataset_stats.h"
#include "data/document_stream.h"
#include "data/row_reader.h"
#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

using Rows = std::vector<std::optional<std::string>>;

TEST(TextSource, EachLineIsARowAndLineBreaksAreDropped) {
  const std::string dir = make_scratch_dir("text-lines");
  write_file(dir + "/a.txt", "first line\r\nsecond\n\nlast without newline");
  EXPECT_EQ(all_rows(dir + "/a.txt"),
            (Rows{"first line", "second", "", "last without newline"}));
}

TEST(TextSource, GzipAndZstdReadAsThePlainFile) {
  const std::string dir = make_scratch_dir("text-compressed");
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "line number " + std::to_string(i) + "\n";
  write_file(dir + "/a.txt", text);
  write_file(dir + "/a.txt.gz", gzip_bytes(text));
  write_file(dir + "/a.txt.zst", zstd_bytes(text));
  const Rows plain = all_rows(dir + "/a.txt");
  ASSERT_EQ(plain.size(), 50000u);
  EXPECT_EQ(all_rows(dir + "/a.txt.gz"), plain);
  EXPECT_EQ(all_rows(dir + "/a.txt.zst"), plain);
}

TEST(TextSource, ConcatenatedGzipMembersAreOneStream) {
  const std::string dir = make_scratch_dir("text-gzip-members");
  write_file(dir + "/a.txt.gz", gzip_bytes("one\ntwo\n") + gzip_bytes("three\n"));
  EXPECT_EQ(all_rows(dir + "/a.txt.gz"), (Rows{"one", "two", "three"}));
}

TEST(TextSource, TruncatedOrCorruptCompressedFilesAreUserErrors) {
  const std::string dir = make_scratch_dir("text-corrupt");
  std::string text(200000, 'x');
  const std::string gz = gzip_bytes(text), zst = zstd_bytes(text + "y");
  write_file(dir + "/cut.txt.gz", gz.substr(0, gz.size() / 2));
  write_file(dir + "/cut.txt.zst", zst.substr(0, zst.size() - 3));
  std::string garbage = gz;
  garbage[20] ^= 0x55;
  garbage[21] ^= 0x55;
  write_file(dir + "/bad.txt.gz", garbage);
  write_file(dir + "/bad.txt.zst", "definitely not zstd data");
  for (const char* name : {"cut.txt.gz", "cut.txt.zst", "bad.txt.gz", "bad.txt.zst"}) {
    try {
      all_rows(dir + "/" + name);
      ADD_FAILURE() << name << " was read without an error";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  }
}

TEST(JsonSource, JsonLinesReadTheTextColumnWithNullsAndMissingValues) {
  const std::string dir = make_scratch_dir("jsonl");
  write_file(dir + "/a.jsonl",
             "{\"id\": 1, \"text\": \"hello \\\"world\\\"\\n\\u00e9\"}\n"
             "\n"
             "{\"text\": null, \"id\": 2}\n"
             "{\"id\": 3}\n"
             "{\"id\": 4, \"text\": \"\"}\n");
  EXPECT_EQ(all_rows(dir + "/a.jsonl"),
            (Rows{"hello \"world\"\n\xC3\xA9", std::nullopt, std::nullopt, ""}));
  write_file(dir + "/a.jsonl.zst", zstd_bytes(read_file(dir + "/a.jsonl")));
  EXPECT_EQ(all_rows(dir + "/a.jsonl.zst"), all_rows(dir + "/a.jsonl"));
}

TEST(JsonSource, LoneSurrogatesAndBrokenEscapesAreReplacedAndCounted) {
  const std::string dir = make_scratch_dir("json-surrogates");
  write_file(dir + "/a.jsonl",
             "{\"text\": \"pair \\ud83d\\ude42 ok\"}\n"
             "{\"text\": \"lone \\ud800 high\", \"id\": 1}\n"
             "{\"text\": \"lone \\udc00 low \\q end\"}\n");
  DocumentStream stream({dir + "/a.jsonl"}, "text");
  std::vector<std::string> documents;
  std::string_view text;
  while (stream.next(text)) documents.emplace_back(text);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(documents, (std::vector<std::string>{"pair \xF0\x9F\x99\x82 ok", "lone " + fffd + " high",
                                                 "lone " + fffd + " low " + fffd + " end"}));
  EXPECT_EQ(stream.counts().invalid_utf8_replaced, 3);
}

TEST(JsonSource, AJsonArrayOfRecordsReadsLikeJsonLines) {
  const std::string dir = make_scratch_dir("json-array");
  write_file(dir + "/a.json", " [ {\"text\": \"one\"}, {\"text\": null}, {\"text\": \"two\"} ]");
  EXPECT_EQ(all_rows(dir + "/a.json"), (Rows{"one", std::nullopt, "two"}));
  write_file(dir + "/b.json", "{\"text\": \"lines\"}\n{\"text\": \"too\"}\n");
  EXPECT_EQ(all_rows(dir + "/b.json"), (Rows{"lines", "too"}));
}

TEST(JsonSource, AMissingColumnListsTheColumnsThatExist) {
  const std::string dir = make_scratch_dir("json-missing-column");
  write_file(dir + "/a.jsonl", "{\"content\": \"x\", \"title\": \"y\"}\n");
  try {
    all_rows(dir + "/a.jsonl", "text");
    FAIL() << "no error";
  } catch (const UserError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("column 'text' not found"), std::string::npos) << message;
    EXPECT_NE(message.find("content, title"), std::string::npos) << message;
  }
}

TEST(JsonSource, NonTextValuesAndBrokenLinesAreUserErrors) {
  const std::string dir = make_scratch_dir("json-bad");
  write_file(dir + "/number.jsonl", "{\"text\": 12}\n");
  write_file(dir + "/broken.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
  EXPECT_THROW(all_rows(dir + "/number.jsonl"), UserError);
  EXPECT_THROW(all_rows(dir + "/broken.jsonl"), UserError);
}

TEST(DocumentStream, SkipsNullAndEmptyTextsAndRepairsInvalidUtf8) {
  const std::string dir = make_scratch_dir("stream-skips");
  write_file(dir + "/a.jsonl",
             "{\"text\": \"caf\xE9\"}\n{\"text\": null}\n{\"text\": \"\"}\n{\"text\": \"ok\"}\n");
  write_file(dir + "/b.txt", "bad \xFF\xFE end\n\nfine\n");
  DocumentStream stream({dir + "/a.jsonl", dir + "/b.txt"}, "text");
  std::vector<std::string> documents;
  std::string_view text;
  while (stream.next(text)) documents.emplace_back(text);
  EXPECT_EQ(documents, (std::vector<std::string>{"caf\xEF\xBF\xBD", "ok",
                                                 "bad \xEF\xBF\xBD\xEF\xBF\xBD end", "fine"}));
  EXPECT_EQ(stream.counts().skipped, 3);
  EXPECT_EQ(stream.counts().invalid_utf8_replaced, 3);
  EXPECT_EQ(stream.counts().rows, 7);
}

TEST(DatasetStats, CountsDocumentsCharactersBytesAndTokens) {
  const std::string dir = make_scratch_dir("stats");
  write_file(dir + "/a.txt", "héllo\n\nworld\n");
  ByteEncoder bytes;
  const DatasetStats stats = compute_dataset_stats({dir + "/a.txt"}, "text", &bytes);
  EXPECT_EQ(stats.documents, 2);
  EXPECT_EQ(stats.characters, 10);
  EXPECT_EQ(stats.bytes, 11);
  EXPECT_EQ(stats.tokens, 11);
  EXPECT_EQ(stats.skipped, 1);
  DatasetStats without_entropy = stats;
  without_entropy.unigram_entropy_nats.reset();
  EXPECT_EQ(format_dataset_stats(without_entropy),
            "documents: 2\ncharacters: 10\nbytes: 11\ntokens: 11\nskipped: 1\n"
            "invalid_utf8_replaced: 0\n");
  EXPECT_NE(format_dataset_stats(stats).find("\nunigram_entropy_nats: "), std::string::npos);
}

}  // namespace
}  // namespace utt::test

namespace utt {
namespace {

TEST(DatasetStats, UnigramEntropyOfTheTokenFrequencies) {
  const std::string dir = test::make_scratch_dir("entropy");
  test::write_file(dir + "/two.txt", "abab\naaaa\n");  // bytes: six 'a', two 'b'
  const ByteEncoder encoder;
  const DatasetStats stats = compute_dataset_stats({dir + "/two.txt"}, "text", &encoder);
  ASSERT_TRUE(stats.unigram_entropy_nats.has_value());
  const double p = 6.0 / 8.0;
  EXPECT_NEAR(*stats.unigram_entropy_nats, -(p * std::log(p) + (1 - p) * std::log(1 - p)), 1e-12);
  EXPECT_FALSE(compute_dataset_stats({dir + "/two.txt"}, "text").unigram_entropy_nats.has_value());
}

}  // namespace
}  // namespace utt
