// tokenizer.json: what we write reads back identically; bad files are refused naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "unit/tokenizer/tokenizer_test_corpus.h"
#include "util/error.h"

namespace utt::test {
namespace {

using Json = nlohmann::json;

std::string error_of(const std::string& json_text) {
  try {
    Tokenizer::from_json(json_text);
  } catch (const UserError& error) {
    return error.what();
  }
  return "(no error)";
}

std::string edited(const Tokenizer& tokenizer, const std::function<void(Json&)>& edit) {
  Json root = Json::parse(tokenizer.to_json());
  edit(root);
  return root.dump();
}

TEST(TokenizerJson, WrittenFileReadsBackAsTheSameTokenizer) {
  for (PretokenizerKind kind : {PretokenizerKind::kCl100k, PretokenizerKind::kGpt2}) {
    const Tokenizer written = train_small(500, kind);
    const Tokenizer read = Tokenizer::from_json(written.to_json());
    EXPECT_EQ(read.fingerprint(), written.fingerprint());
    EXPECT_EQ(read.to_json(), written.to_json());
    EXPECT_EQ(read.spec().pretokenizer, kind);
    EXPECT_EQ(read.eos_id(), written.eos_id());
    const std::string text = small_corpus()[3];
    EXPECT_EQ(read.encode(text), written.encode(text));
  }
}

TEST(TokenizerJson, HasTheFieldsHfRequires) {
  const Json root = Json::parse(train_small(300).to_json());
  EXPECT_EQ(root["version"], "1.0");
  EXPECT_EQ(root["model"]["type"], "BPE");
  EXPECT_EQ(root["model"]["vocab"].size(), 300u);
  EXPECT_EQ(root["model"]["vocab"]["<|endoftext|>"], 298);
  EXPECT_EQ(root["added_tokens"][1]["content"], "<|pad|>");
  EXPECT_EQ(root["added_tokens"][1].size(), 7u);
  EXPECT_EQ(root["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], std::string(kCl100kPattern));
  EXPECT_TRUE(root["model"]["merges"][0].is_string());
}

TEST(TokenizerJson, BothMergeFormsAreRead) {
  const Tokenizer written = train_small(400);
  const std::string pairs = edited(written, [](Json& root) {
    for (Json& merge : root["model"]["merges"]) {
      const std::string text = merge.get<std::string>();
      merge = Json::array({text.substr(0, text.find(' ')), text.substr(text.find(' ') + 1)});
    }
  });
  EXPECT_EQ(Tokenizer::from_json(pairs).fingerprint(), written.fingerprint());
}

TEST(TokenizerJson, CorruptFilesNameTheField) {
  const Tokenizer good = train_small(300);
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["version"] = "2.0"; })).find("version"),
            std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["model"].erase("vocab"); })).find("model.vocab"),
            std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["model"]["type"] = "WordPiece"; }))
                .find("model.type"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["model"]["merges"][0] = "zz qq"; }))
                .find("model.merges[0]"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["model"]["merges"][1] = "a b c"; }))
                .find("model.merges[1]"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["pre_tokenizer"] = {{"type", "Whitespace"}}; }))
                .find("pre_tokenizer"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["normalizer"] = {{"type", "NFC"}}; }))
                .find("normalizer"), std::string::npos);
  EXPECT_NE(error_of(edited(good, [](Json& r) { r["model"]["vocab"].erase("a"); }))
                .find("model."), std::string::npos);
}

// A small fuzz: corrupted files either load or fail with a UserError, never anything else.
TEST(TokenizerJson, RandomlyCorruptedFilesLoadOrFailWithAUserError) {
  const std::string good = train_small(300).to_json();
  std::mt19937 random(3);
  const std::string alphabet = "{}[]\":, 0123456789abtrue\\\xff";
  for (int round = 0; round < 300; ++round) {
    std::string text = good;
    for (int edit = 0; edit < 1 + round % 4; ++edit) {
      const size_t at = random() % text.size();
      switch (random() % 3) {
        case 0: text[at] = alphabet[random() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + random() % 8); break;
        default: text.insert(at, 1, alphabet[random() % alphabet.size()]); break;
      }
    }
    try {
      const Tokenizer tokenizer = Tokenizer::from_json(text);
      EXPECT_EQ(tokenizer.decode(tokenizer.encode("any text")), "any text");
    } catch (const UserError&) {
    } catch (const std::exception& error) {
      ADD_FAILURE() << "round " << round << ": " << error.what();
    }
  }
}

TEST(TokenizerJson, MissingFileIsAUserErrorNamingIt) {
  try {
    Tokenizer::load("/nonexistent/tokenizer.json");
    FAIL() << "no error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/tokenizer.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace utt::test
