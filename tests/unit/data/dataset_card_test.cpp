// Dataset cards: the configs and data_files a README's YAML front matter declares, and local
// folders whose card decides their splits.
#include "data/dataset_card.h"

#include <gtest/gtest.h>

#include "data/dataset_files.h"
#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

const std::vector<std::string> kFiles = {
    "README.md",          "data/train-00000.parquet", "data/train-00001.parquet", "data/test.jsonl",
    "extra/a/one.jsonl",  "extra/b/c/two.jsonl",      "extra/three.jsonl",        "notes/train.jsonl"};

DatasetCard card_of(const std::string& yaml) {
  const std::optional<DatasetCard> card = parse_dataset_card("---\n" + yaml + "---\n# Title\n", "README.md");
  EXPECT_TRUE(card.has_value());
  return card.value_or(DatasetCard{});
}

std::map<std::string, std::vector<std::string>> splits_of(const DatasetCard& card,
                                                          const std::optional<std::string>& config = std::nullopt) {
  const std::optional<CardSplits> chosen = card_splits(card, config, kFiles, "the dataset");
  EXPECT_TRUE(chosen.has_value());
  return chosen ? chosen->splits : std::map<std::string, std::vector<std::string>>{};
}

TEST(DatasetCard, EveryFormOfDataFilesIsRead) {
  // A list of {split, path}, a path given as a list, and custom split names.
  EXPECT_EQ(splits_of(card_of("configs:\n- config_name: default\n  data_files:\n  - split: train_sft\n"
                              "    path: data/train-*\n  - split: test\n    path: [data/test.jsonl]\n")),
            (std::map<std::string, std::vector<std::string>>{
                {"train_sft", {"data/train-00000.parquet", "data/train-00001.parquet"}},
                {"test", {"data/test.jsonl"}}}));
  // One pattern: the train split. A mapping of split names. A list of patterns.
  EXPECT_EQ(splits_of(card_of("configs:\n- config_name: x\n  data_files: \"extra/*.jsonl\"\n")),
            (std::map<std::string, std::vector<std::string>>{{"train", {"extra/three.jsonl"}}}));
  EXPECT_EQ(splits_of(card_of("configs:\n- config_name: x\n  data_files:\n    train: extra/**/*.jsonl\n"
                              "    validation: [data/test.jsonl]\n")),
            (std::map<std::string, std::vector<std::string>>{
                {"train", {"extra/a/one.jsonl", "extra/b/c/two.jsonl", "extra/three.jsonl"}},
                {"validation", {"data/test.jsonl"}}}));
  EXPECT_EQ(splits_of(card_of("configs:\n- config_name: x\n  data_files:\n  - data/test.jsonl\n  - notes/*\n")),
            (std::map<std::string, std::vector<std::string>>{{"train", {"data/test.jsonl", "notes/train.jsonl"}}}));
}

TEST(DatasetCard, PatternsFollowTheHubsGlobRules) {
  EXPECT_TRUE(matches_data_files_pattern("data/*.parquet", "data/train-00000.parquet"));
  EXPECT_FALSE(matches_data_files_pattern("*.jsonl", "extra/three.jsonl"));  // * stays in a folder
  EXPECT_TRUE(matches_data_files_pattern("**/*.jsonl", "extra/b/c/two.jsonl"));
  EXPECT_TRUE(matches_data_files_pattern("extra/**/*.jsonl", "extra/three.jsonl"));  // ** may be no folder
  EXPECT_TRUE(matches_data_files_pattern("data/train-0000[0-9].parquet", "data/train-00001.parquet"));
  EXPECT_FALSE(matches_data_files_pattern("data/train-0000[!1].parquet", "data/train-00001.parquet"));
  EXPECT_TRUE(matches_data_files_pattern("data/tes?.jsonl", "data/test.jsonl"));
  EXPECT_TRUE(matches_data_files_pattern("./data/test.jsonl", "data/test.jsonl"));
  EXPECT_FALSE(matches_data_files_pattern("data/test.json", "data/test.jsonl"));
  EXPECT_FALSE(matches_data_files_pattern("data.test.jsonl", "data/test.jsonl"));  // . is literal
}

TEST(DatasetCard, TheConfigIsChosenByFlagThenDefaultThenNameThenAlone) {
  const std::string two = "configs:\n- config_name: a\n  data_files: data/test.jsonl\n"
                          "- config_name: b\n  data_files: extra/three.jsonl\n";
  EXPECT_EQ(card_splits(card_of(two), std::string("b"), kFiles, "d")->config, "b");
  try {
    card_splits(card_of(two), std::nullopt, kFiles, "d");
    FAIL() << "two configs without a default were accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("choose one with --dataset-config"), std::string::npos) << error.what();
  }
  try {
    card_splits(card_of(two), std::string("c"), kFiles, "d");
    FAIL() << "an unknown config was accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("its dataset card declares a, b"), std::string::npos) << error.what();
  }
  EXPECT_EQ(card_splits(card_of(two + "- config_name: c\n  default: true\n  data_files: notes/*\n"), std::nullopt,
                        kFiles, "d")->config, "c");
  EXPECT_EQ(card_splits(card_of(two + "- config_name: default\n  data_files: notes/*\n"), std::nullopt, kFiles,
                        "d")->config, "default");
  EXPECT_EQ(card_splits(card_of("configs:\n- config_name: only\n  data_files: notes/*\n"), std::nullopt, kFiles,
                        "d")->config, "only");
}

TEST(DatasetCard, CardsWithoutConfigsOrFrontMatterLeaveTheFolderRules) {
  EXPECT_FALSE(parse_dataset_card("# Just a title\n", "README.md").has_value());
  EXPECT_FALSE(parse_dataset_card("---\nno closing line\n", "README.md").has_value());
  const DatasetCard info = card_of("dataset_info:\n- config_name: small\n  splits:\n  - name: train\n"
                                   "- config_name: large\n");
  EXPECT_EQ(info.info_configs, (std::vector<std::string>{"small", "large"}));
  EXPECT_FALSE(card_splits(info, std::nullopt, kFiles, "d").has_value());
  EXPECT_THROW(parse_dataset_card("---\nconfigs: [unclosed\n---\n", "README.md"), UserError);
  EXPECT_THROW(parse_dataset_card("---\nconfigs:\n- config_name: x\n  data_files: {train: {a: 1}}\n---\n", "README.md"),
               UserError);
}

TEST(DatasetCard, ALocalFolderWithACardServesItsConfigsAndSplits) {
  const std::string dir = make_scratch_dir("card-folder");
  write_file(dir + "/README.md",
             "---\nconfigs:\n- config_name: chat\n  default: true\n  data_files:\n  - split: train_sft\n"
             "    path: sft/train-*.jsonl\n  - split: valid\n    path: sft/dev.jsonl\n"
             "- config_name: raw\n  data_files: raw/**/*.txt\n---\n");
  write_file(dir + "/sft/train-0.jsonl", "{\"text\": \"a\"}\n");
  write_file(dir + "/sft/train-1.jsonl", "{\"text\": \"b\"}\n");
  write_file(dir + "/sft/dev.jsonl", "{\"text\": \"c\"}\n");
  write_file(dir + "/raw/x/1.txt", "d\n");
  write_file(dir + "/train.jsonl", "{\"text\": \"not in the card\"}\n");
  EXPECT_EQ(resolve_local_split(dir, std::nullopt, "train_sft"),
            (std::vector<std::string>{dir + "/sft/train-0.jsonl", dir + "/sft/train-1.jsonl"}));
  // The card's "valid" answers to validation, as the Hub's synonyms do.
  EXPECT_EQ(resolve_local_split(dir, std::nullopt, "validation"), (std::vector<std::string>{dir + "/sft/dev.jsonl"}));
  EXPECT_EQ(resolve_local_split(dir, std::string("raw"), "train"), (std::vector<std::string>{dir + "/raw/x/1.txt"}));
  EXPECT_EQ(local_splits(dir, std::nullopt), (std::vector<std::string>{"train_sft", "valid"}));
  EXPECT_THROW(resolve_local_split(dir, std::nullopt, "train"), UserError);
  EXPECT_THROW(resolve_local_split(dir, std::string("other"), "train"), UserError);
}

}  // namespace
}  // namespace utt::test
