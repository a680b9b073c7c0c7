// `utt tokenizer`: train, encode, decode and stats through the command line, and every kind
// of bad input answered with one message and exit code 2.
#include <gtest/gtest.h>

#include <fstream>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A scratch directory with corpus.txt, corpus.jsonl and a trained tok.json.
std::string trained_dir() {
  const std::string dir = scratch_dir("tokenizer");
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "The state of the union is strong, said the president in " + std::to_string(1900 + i) +
            ".\n";
  }
  write_file(dir + "/corpus.txt", text);
  write_file(dir + "/corpus.jsonl", "{\"body\": \"Hello there\\nfriend\"}\n{\"body\": \"second one\"}\n");
  const RunResult r = run_utt({"tokenizer", "train", "--input", "corpus.txt", "--vocab-size", "300",
                               "--output", "tok.json"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "300-token")) << r.out;
  return dir;
}

TEST(TokenizerCommand, HelpAtEveryLevel) {
  for (const char* sub_name : {"", "train", "encode", "decode", "stats"}) {
    const std::string sub = sub_name;
    std::vector<std::string> args = {"tokenizer"};
    if (!sub.empty()) args.push_back(sub);
    args.push_back("--help");
    const RunResult r = run_utt(args);
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_TRUE(contains(r.out, "Usage: utt tokenizer")) << r.out;
  }
  EXPECT_TRUE(contains(run_utt({"--help"}).out, "tokenizer"));
}

TEST(TokenizerCommand, EncodeThenDecodeGivesBackTheText) {
  const std::string dir = trained_dir();
  write_file(dir + "/in.txt", "The union is strong.\nsecond line, caf\xc3\xa9\n\nlast");
  const RunResult encoded = run_utt({"tokenizer", "encode", "--tokenizer", "tok.json", "--input", "in.txt"}, dir);
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  write_file(dir + "/ids.txt", encoded.out);
  const RunResult decoded = run_utt({"tokenizer", "decode", "--tokenizer", "tok.json", "--input", "ids.txt"}, dir);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, "The union is strong.\nsecond line, caf\xc3\xa9\n\nlast\n");
}

TEST(TokenizerCommand, EncodeReadsStdinWhenNoInputIsGiven) {
  const std::string dir = trained_dir();
  const RunResult from_file = [&] {
    write_file(dir + "/in.txt", "the union\n");
    return run_utt({"tokenizer", "encode", "--tokenizer", "tok.json", "--input", "in.txt"}, dir);
  }();
  const RunResult from_stdin = run_program(
      "sh", {"-c", "printf 'the union\\n' | '" + utt_binary() + "' tokenizer encode --tokenizer tok.json"}, dir);
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);
  EXPECT_FALSE(from_stdin.out.empty());
}

TEST(TokenizerCommand, StatsPrintsNameValueLines) {
  const std::string dir = trained_dir();
  const RunResult r = run_utt({"tokenizer", "stats", "--tokenizer", "tok.json", "--input",
                               "corpus.jsonl", "--text-column", "body"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "documents: 2\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "bytes: 28\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "tokens: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "bytes_per_token: ")) << r.out;
}

TEST(TokenizerCommand, TrainsFromJsonlWithATextColumn) {
  const std::string dir = trained_dir();
  const RunResult r = run_utt({"tokenizer", "train", "--input", "corpus.jsonl", "corpus.txt",
                               "--text-column", "body", "--vocab-size", "280", "--pretokenizer",
                               "gpt2", "--threads", "2", "--output", "tok2.json"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "202 documents")) << r.out;
}

TEST(TokenizerCommand, BadInputIsOneMessageAndExitCode2) {
  const std::string dir = trained_dir();
  write_file(dir + "/empty.txt", "\n\n");
  write_file(dir + "/corrupt.json", "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train", "--input", "corpus.txt", "--vocab-size", "257", "--output", "x.json"}, "at least 258"},
      {{"train", "--input", "empty.txt", "--vocab-size", "300", "--output", "x.json"}, "empty"},
      {{"train", "--input", "missing.txt", "--vocab-size", "300", "--output", "x.json"}, "missing.txt"},
      {{"train", "--input", "corpus.jsonl", "--vocab-size", "300", "--output", "x.json"}, "--text-column"},
      {{"train", "--input", "corpus.txt", "--vocab-size", "300"}, "--output"},
      {{"train", "--input", "corpus.txt", "--vocab-size", "300", "--output", "no/such/dir/t.json"},
       "does not exist"},
      {{"train", "--input", "corpus.txt", "--vocab-size", "300", "--output", "x.json",
        "--pretokenizer", "bert"}, "cl100k or gpt2"},
      {{"encode", "--tokenizer", "corrupt.json", "--input", "corpus.txt"}, "pre_tokenizer"},
      {{"encode", "--tokenizer", "nope.json"}, "nope.json"},
      {{"encode", "--tokenizr", "tok.json"}, "did you mean --tokenizer"},
      {{"stats", "--tokenizer", "tok.json", "--input", "empty.txt"}, "no documents"},
      {{"tokeniz"}, "unknown command"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"tokenizer"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const RunResult r = run_utt(args, dir);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << r.err;
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  write_file(dir + "/bad_ids.txt", "1 2 99999\n");
  const RunResult r = run_utt({"tokenizer", "decode", "--tokenizer", "tok.json", "--input", "bad_ids.txt"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "99999")) << r.err;
}

}  // namespace
}  // namespace utt::test
