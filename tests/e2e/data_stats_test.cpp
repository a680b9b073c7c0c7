// `utt data stats` as a user runs it: the numbers, and one clear message with exit code 2
// for every kind of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "e2e/run_utt.h"

namespace utt::test {
namespace {

void write(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `utt data stats args...` and expects exit 2 with `message` on stderr, nothing on stdout.
void expect_user_error(const std::vector<std::string>& args, const std::string& message) {
  std::vector<std::string> full = {"data", "stats"};
  full.insert(full.end(), args.begin(), args.end());
  const RunResult r = run_utt(full);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, message)) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(DataStats, PrintsOneNameValueLineEach) {
  const std::string dir = scratch_dir("stats");
  write(dir + "/data/train.jsonl",
        "{\"text\": \"héllo\"}\n{\"text\": null}\n{\"text\": \"\"}\n{\"text\": \"bad \xFF\"}\n");
  write(dir + "/data/validation.jsonl", "{\"text\": \"v\"}\n");
  const RunResult r = run_utt({"data", "stats", "--dataset-id", dir + "/data"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "documents: 2\ncharacters: 10\nbytes: 13\nskipped: 2\ninvalid_utf8_replaced: 1\n");
  const RunResult v = run_utt({"data", "stats", "--dataset-id", dir + "/data", "--split", "validation"});
  EXPECT_TRUE(contains(v.out, "documents: 1\n")) << v.out;
}

TEST(DataStats, WithATokenizerCountsTokens) {
  const std::string dir = scratch_dir("stats-tokens");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "{\"text\": \"the state of the union number " + std::to_string(i) + "\"}\n";
  write(dir + "/train.jsonl", text);
  const RunResult trained = run_utt({"tokenizer", "train", "--input", dir + "/train.jsonl",
                                     "--vocab-size", "300", "--output", dir + "/tok.json"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const RunResult r = run_utt({"data", "stats", "--dataset-id", dir + "/train.jsonl", "--tokenizer",
                               dir + "/tok.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t at = r.out.find("tokens: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const long tokens = std::stol(r.out.substr(at + 8));
  EXPECT_GT(tokens, 200);
  EXPECT_LT(tokens, 200 * 36);  // fewer tokens than bytes: the merges apply
  // Fewer tokens than one batch of the default 32 x 257: no batch to describe.
  EXPECT_TRUE(contains(r.out, "documents_per_batch: none (less than one batch of 32 windows of 257 tokens)")) << r.out;
  const RunResult small = run_utt({"data", "stats", "--dataset-id", dir + "/train.jsonl", "--tokenizer",
                                   dir + "/tok.json", "--batch-size", "4", "--seq-len", "16"});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(contains(small.out, "documents_per_batch: ")) << small.out;
  EXPECT_FALSE(contains(small.out, "none")) << small.out;
  expect_user_error({"--dataset-id", dir + "/train.jsonl", "--tokenizer", dir + "/missing.json"},
                    "missing.json");
}

TEST(DataStats, HelpDescribesTheCommand) {
  const RunResult r = run_utt({"data", "stats", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "Usage: utt data stats --dataset-id"));
  EXPECT_TRUE(contains(run_utt({"--help"}).out, "data"));
}

TEST(DataStats, EveryBadInputIsOneClearMessageAndExitCode2) {
  const std::string dir = scratch_dir("stats-bad");
  write(dir + "/d/train.jsonl", "{\"content\": \"x\"}\n");
  write(dir + "/d/test.jsonl", "{\"content\": \"x\"}\n");
  write(dir + "/empty/train.txt", "\n\n");
  write(dir + "/cut.txt.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10));
  write(dir + "/bad.txt.zst", "not zstd at all");
  write(dir + "/bad.parquet", "PAR1 this is not parquet PAR1");
  expect_user_error({"--dataset-id", dir + "/missing.jsonl"}, "not found");
  expect_user_error({"--dataset-id", dir + "/d", "--split", "validation"},
                    "the available splits are test, train");
  expect_user_error({"--dataset-id", dir + "/d"}, "the columns are content");
  expect_user_error({"--dataset-id", dir + "/empty"}, "no documents");
  expect_user_error({"--dataset-id", dir + "/cut.txt.gz"}, "truncated");
  expect_user_error({"--dataset-id", dir + "/bad.txt.zst"}, "not valid zstd");
  expect_user_error({"--dataset-id", dir + "/bad.parquet"}, "not a Parquet file utt can read");
  expect_user_error({"--dataset-id", dir + "/d", "--epochs", "2"}, "has no flag --epochs");
  expect_user_error({"--dataset-id", dir + "/d", "--splt", "x"}, "did you mean --split?");
}

}  // namespace
}  // namespace utt::test
