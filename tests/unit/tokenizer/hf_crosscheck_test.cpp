// Cross-checks against Hugging Face's tokenizers library (npm `tokenizers`, the native Rust
// build), driven through tests/tools/hf_tokenizer.mjs: files we write load there and encode
// held-out text to exactly our ids, and files HF trains load here and encode identically.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "e2e/run_utt.h"
#include "test_paths.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/document_reader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace utt::test {
namespace {

std::string tools_dir() { return source_dir() + "/tests/tools"; }

// Fails (never skips) when a prerequisite is missing, saying how to install it.
::testing::AssertionResult prerequisites() {
  if (!std::filesystem::exists(tools_dir() + "/node_modules/tokenizers")) {
    return ::testing::AssertionFailure()
           << "tests/tools/node_modules/tokenizers is missing: run scripts/setup --tests";
  }
  if (!std::filesystem::exists(source_dir() + "/data/sotu/validation.jsonl")) {
    return ::testing::AssertionFailure()
           << "the demo corpus data/sotu/ is missing: run scripts/setup --corpus";
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> read_documents(const std::string& path) {
  DocumentReader reader({path}, "text");
  std::vector<std::string> documents;
  std::string_view document;
  while (reader.next(document)) documents.emplace_back(document);
  return documents;
}

std::string ids_line(const std::vector<uint32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  return line;
}

// HF's ids for every held-out document, one line each.
std::vector<std::string> hf_encode(const std::string& tokenizer_path, const std::string& dir,
                                   const std::string& input = source_dir() + "/data/sotu/validation.jsonl",
                                   const std::string& command = "encode") {
  const RunResult r = run_program("node", {tools_dir() + "/hf_tokenizer.mjs", command, tokenizer_path, input}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void expect_same_ids(const Tokenizer& ours, const std::string& tokenizer_path, const std::string& dir) {
  const std::vector<std::string> held_out = read_documents(source_dir() + "/data/sotu/validation.jsonl");
  const std::vector<std::string> theirs = hf_encode(tokenizer_path, dir);
  ASSERT_EQ(theirs.size(), held_out.size());
  for (size_t i = 0; i < held_out.size(); ++i) {
    EXPECT_EQ(ids_line(ours.encode(held_out[i])), theirs[i]) << "held-out document " << i;
  }
}

Tokenizer train_on_demo_corpus(PretokenizerKind kind, uint32_t vocab_size) {
  DocumentReader reader({source_dir() + "/data/sotu/train.jsonl"}, "text");
  BpeTrainOptions options;
  options.vocab_size = vocab_size;
  options.pretokenizer = kind;
  return train_bpe([&](std::string_view& document) { return reader.next(document); }, options);
}

TEST(HfCrossCheck, OurTokenizerJsonLoadsInHfAndEncodesHeldOutTextToOurIds) {
  ASSERT_TRUE(prerequisites());
  for (PretokenizerKind kind : {PretokenizerKind::kCl100k, PretokenizerKind::kGpt2}) {
    const std::string dir = scratch_dir("hf_ours");
    const Tokenizer ours = train_on_demo_corpus(kind, 8000);
    ours.save(dir + "/tokenizer.json");
    expect_same_ids(ours, dir + "/tokenizer.json", dir);
  }
}

// Third-party variants of our files: GPT-2's own file layout (empty prefix/suffix strings, a
// ByteLevel post-processor), add_prefix_space, and Llama-3's ignore_merges.
TEST(HfCrossCheck, ThirdPartyOptionsEncodeAsInHf) {
  ASSERT_TRUE(prerequisites());
  const Tokenizer gpt2_style = train_on_demo_corpus(PretokenizerKind::kGpt2, 4000);
  const Tokenizer cl100k_style = train_on_demo_corpus(PretokenizerKind::kCl100k, 4000);
  struct Variant {
    const Tokenizer* base;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Variant> variants = {
      {&gpt2_style,
       [](nlohmann::json& root) {
         root["model"]["continuing_subword_prefix"] = "";
         root["model"]["end_of_word_suffix"] = "";
         root["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true},
                                   {"trim_offsets", false}, {"use_regex", true}};
       }},
      {&gpt2_style, [](nlohmann::json& root) { root["pre_tokenizer"]["add_prefix_space"] = true; }},
      {&cl100k_style, [](nlohmann::json& root) { root["model"]["ignore_merges"] = true; }},
  };
  for (size_t v = 0; v < variants.size(); ++v) {
    const std::string dir = scratch_dir("hf_variant");
    nlohmann::json root = nlohmann::json::parse(variants[v].base->to_json());
    variants[v].edit(root);
    std::ofstream(dir + "/tokenizer.json") << root.dump();
    SCOPED_TRACE("variant " + std::to_string(v));
    const Tokenizer loaded = Tokenizer::load(dir + "/tokenizer.json");
    expect_same_ids(loaded, dir + "/tokenizer.json", dir);
  }
}

TEST(HfCrossCheck, HfTrainedTokenizerJsonLoadsInUttAndEncodesIdentically) {
  ASSERT_TRUE(prerequisites());
  const std::string dir = scratch_dir("hf_theirs");
  {
    // HF reads .txt line by line: a 2 MB slice of the training split keeps the test short.
    std::ofstream text(dir + "/train.txt");
    size_t bytes = 0;
    for (const std::string& document : read_documents(source_dir() + "/data/sotu/train.jsonl")) {
      text << document << "\n";
      if ((bytes += document.size()) > (2u << 20)) break;
    }
  }
  const RunResult trained = run_program(
      "node", {tools_dir() + "/hf_tokenizer.mjs", "train", dir + "/hf.json", dir + "/train.txt"}, dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const Tokenizer theirs = Tokenizer::load(dir + "/hf.json");
  EXPECT_GT(theirs.vocab_size(), 5000u);
  expect_same_ids(theirs, dir + "/hf.json", dir);

  // Our trainer, given the same text (HF keeps each line's newline) and HF's pattern, makes
  // exactly HF's merges, in HF's order.
  std::vector<std::string> lines;
  {
    std::ifstream text(dir + "/train.txt");
    for (std::string line; std::getline(text, line);) lines.push_back(line.append("\n"));
  }
  size_t next = 0;
  BpeTrainOptions options;
  options.vocab_size = 30000;
  options.pretokenizer = PretokenizerKind::kGpt2;
  const Tokenizer ours = train_bpe(
      [&](std::string_view& document) {
        if (next >= lines.size()) return false;
        document = lines[next++];
        return true;
      },
      options);
  ASSERT_EQ(ours.spec().merges.size(), theirs.spec().merges.size());
  for (size_t i = 0; i < ours.spec().merges.size(); ++i) {
    const BpeMerge a = ours.spec().merges[i];
    const BpeMerge b = theirs.spec().merges[i];
    ASSERT_EQ(ours.spec().tokens[a.left], theirs.spec().tokens[b.left]) << "merge " << i;
    ASSERT_EQ(ours.spec().tokens[a.right], theirs.spec().tokens[b.right]) << "merge " << i;
  }

  // HF >= 0.20 writes merges as pairs; the legacy "a b" form must read to the same tokenizer.
  const RunResult legacy = run_program(
      "node", {tools_dir() + "/hf_tokenizer.mjs", "legacy-merges", dir + "/hf.json", dir + "/legacy.json"},
      dir);
  ASSERT_EQ(legacy.exit_code, 0) << legacy.err;
  EXPECT_EQ(Tokenizer::load(dir + "/legacy.json").fingerprint(), theirs.fingerprint());
  expect_same_ids(theirs, dir + "/legacy.json", dir);
}

// Held-out documents with added-token text written into them, as a .jsonl for both sides.
std::string held_out_with(const std::vector<std::string>& inserts, const std::string& dir) {
  std::vector<std::string> documents = read_documents(source_dir() + "/data/sotu/validation.jsonl");
  std::ofstream out(dir + "/held_out.jsonl");
  for (size_t i = 0; i < documents.size(); ++i) {
    std::string text = documents[i].substr(0, 4000);
    for (size_t k = 0; k < inserts.size(); ++k) {
      const size_t at = text.find(' ', 500 * (k + 1) + i);  // at a space: never inside a character
      if (at != std::string::npos) text.insert(at, inserts[k]);
    }
    out << nlohmann::json{{"text", text}}.dump() << "\n";
  }
  return dir + "/held_out.jsonl";
}

nlohmann::json added_token(const std::string& content, uint32_t id, bool special) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

TEST(HfCrossCheck, IdsWithGapsAndAddedTokensOutsideTheVocabularyLoadAsInHf) {
  ASSERT_TRUE(prerequisites());
  const std::string dir = scratch_dir("hf_gaps");
  const Tokenizer trained = train_on_demo_corpus(PretokenizerKind::kCl100k, 4000);
  // As cl100k_base's conversion has it: a special token in model.vocab after a gap, and added
  // tokens that are not in model.vocab at all, listed with ids that Hugging Face does not keep
  // (it numbers them from the model's entry count, 3999, into the gap: 3998, 4001 and 4002
  // stay unused).
  nlohmann::json root = nlohmann::json::parse(trained.to_json());
  nlohmann::json& vocab = root["model"]["vocab"];
  vocab.erase("<|endoftext|>");
  vocab.erase("<|pad|>");
  vocab["<|endoftext|>"] = 4003;
  root["added_tokens"] = {added_token("<|endoftext|>", 4003, true), added_token("<|pad|>", 9999, true),
                          added_token("<|extra|>", 7, false)};
  std::ofstream(dir + "/tokenizer.json") << root.dump();
  const Tokenizer loaded = Tokenizer::load(dir + "/tokenizer.json");
  EXPECT_EQ(loaded.vocab_size(), 4004u);  // max id 4003 + 1
  EXPECT_EQ(loaded.spec().unused_ids, (std::vector<uint32_t>{3998, 4001, 4002}));
  EXPECT_EQ(loaded.eos_id(), 4003u);
  EXPECT_FALSE(loaded.is_used(4001));
  const std::vector<uint32_t> unused{4001};
  EXPECT_THROW(loaded.decode(unused), UserError);
  const std::string input = held_out_with({"<|pad|>", "<|extra|>", "<|endoftext|>"}, dir);
  const std::vector<std::string> theirs = hf_encode(dir + "/tokenizer.json", dir, input);
  const std::vector<std::string> held_out = read_documents(input);
  ASSERT_EQ(theirs.size(), held_out.size());
  for (size_t i = 0; i < held_out.size(); ++i) {
    const std::vector<uint32_t> ours = loaded.encode(held_out[i]);
    EXPECT_EQ(ids_line(ours), theirs[i]) << "held-out document " << i;
    for (uint32_t id : {3999u, 4000u, 4003u}) EXPECT_NE(std::find(ours.begin(), ours.end(), id), ours.end()) << id;
  }
  // Written back out, the gaps stay gaps: the same tokenizer here and in HF.
  loaded.save(dir + "/rewritten.json");
  const Tokenizer reloaded = Tokenizer::load(dir + "/rewritten.json");
  EXPECT_EQ(reloaded.fingerprint(), loaded.fingerprint());
  const std::vector<std::string> again = hf_encode(dir + "/rewritten.json", dir, input);
  EXPECT_EQ(again, theirs);
}

TEST(HfCrossCheck, ALlama3StyleTemplateFramesEveryDocumentAsHfFramesEveryText) {
  ASSERT_TRUE(prerequisites());
  const std::string dir = scratch_dir("hf_template");
  const Tokenizer trained = train_on_demo_corpus(PretokenizerKind::kCl100k, 4000);
  nlohmann::json root = nlohmann::json::parse(trained.to_json());
  // Llama-3's layout: <|begin_of_text|> and <|end_of_text|> instead of <|endoftext|>, and a
  // post-processor that puts <|begin_of_text|> before every text.
  nlohmann::json& vocab = root["model"]["vocab"];
  vocab.erase("<|endoftext|>");
  vocab.erase("<|pad|>");
  vocab["<|begin_of_text|>"] = 3998;
  vocab["<|end_of_text|>"] = 3999;
  root["added_tokens"] = {added_token("<|begin_of_text|>", 3998, true), added_token("<|end_of_text|>", 3999, true)};
  const nlohmann::json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  root["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
        {{"type", "TemplateProcessing"},
         {"single", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
         {"pair", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, bos, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
         {"special_tokens",
          {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {3998}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}};
  std::ofstream(dir + "/tokenizer.json") << root.dump();
  const Tokenizer loaded = Tokenizer::load(dir + "/tokenizer.json");
  const TextTemplate separators = loaded.document_separators();
  EXPECT_EQ(separators.prefix, std::vector<uint32_t>{3998});
  EXPECT_TRUE(separators.suffix.empty());
  EXPECT_EQ(loaded.describe_document_separators(),
            "<|begin_of_text|> before each document (the tokenizer's post_processor template)");
  const std::string input = source_dir() + "/data/sotu/validation.jsonl";
  const std::vector<std::string> theirs = hf_encode(dir + "/tokenizer.json", dir, input, "encode-with-template");
  const std::vector<std::string> held_out = read_documents(input);
  ASSERT_EQ(theirs.size(), held_out.size());
  for (size_t i = 0; i < held_out.size(); ++i) {
    std::vector<uint32_t> framed = separators.prefix;
    const std::vector<uint32_t> ids = loaded.encode(held_out[i]);
    framed.insert(framed.end(), ids.begin(), ids.end());
    framed.insert(framed.end(), separators.suffix.begin(), separators.suffix.end());
    EXPECT_EQ(ids_line(framed), theirs[i]) << "held-out document " << i;
  }
  // The template survives our writer, and HF frames with the rewritten file the same way.
  loaded.save(dir + "/rewritten.json");
  EXPECT_EQ(Tokenizer::load(dir + "/rewritten.json").document_separators(), separators);
  EXPECT_EQ(hf_encode(dir + "/rewritten.json", dir, input, "encode-with-template"), theirs);

  // Without the template and without an end-of-text token, nothing separates documents.
  root["post_processor"] = nullptr;
  std::ofstream(dir + "/no_separator.json") << root.dump();
  const Tokenizer bare = Tokenizer::load(dir + "/no_separator.json");
  EXPECT_EQ(bare.document_separators().suffix, std::vector<uint32_t>{3999});  // <|end_of_text|>
  vocab.erase("<|end_of_text|>");
  root["added_tokens"] = {added_token("<|begin_of_text|>", 3998, true)};
  std::ofstream(dir + "/no_separator.json") << root.dump();
  try {
    Tokenizer::load(dir + "/no_separator.json").document_separators();
    FAIL() << "a tokenizer without separators was accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("no usable document separator"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace utt::test
