// Split resolution for local datasets: folders named like Hub repositories, globs, files.
#include "data/dataset_files.h"

#include <gtest/gtest.h>

#include "unit/data/data_test_util.h"
#include "util/error.h"

namespace utt::test {
namespace {

std::vector<std::string> names(const std::string& root, const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const std::string& file : files) out.push_back(file.substr(root.size() + 1));
  return out;
}

TEST(DatasetFiles, FilesNamedBySplitServeSplitsLikeAHubRepository) {
  const std::string dir = make_scratch_dir("splits");
  write_file(dir + "/train.jsonl", "{}\n");
  write_file(dir + "/validation.jsonl", "{}\n");
  write_file(dir + "/test.txt", "x\n");
  write_file(dir + "/more/train/part-0.parquet", "");
  write_file(dir + "/more/train/part-1.parquet", "");
  write_file(dir + "/README.md", "not data");
  write_file(dir + "/.cache/train.jsonl", "{}\n");
  EXPECT_EQ(names(dir, resolve_local_split(dir, std::nullopt, "train")),
            (std::vector<std::string>{"more/train/part-0.parquet", "more/train/part-1.parquet",
                                      "train.jsonl"}));
  EXPECT_EQ(names(dir, resolve_local_split(dir, std::nullopt, "validation")),
            (std::vector<std::string>{"validation.jsonl"}));
  // The Hub's synonyms.
  EXPECT_EQ(resolve_local_split(dir, std::nullopt, "dev"),
            resolve_local_split(dir, std::nullopt, "validation"));
  EXPECT_EQ(local_splits(dir, std::nullopt), (std::vector<std::string>{"test", "train", "validation"}));
}

TEST(DatasetFiles, ShardedNamesGiveAnySplitNameLiterallyAndTakePrecedence) {
  const std::string dir = make_scratch_dir("sharded-names");
  write_file(dir + "/test.txt", "ignored: sharded names define the splits\n");
  write_file(dir + "/data/train_sft-00000-of-00002.parquet", "");
  write_file(dir + "/data/train_sft-00001-of-00002.parquet", "");
  write_file(dir + "/data/test_gen-00000-of-00001-2d5a1467fff1081b.parquet", "");
  EXPECT_EQ(local_splits(dir, std::nullopt), (std::vector<std::string>{"test_gen", "train_sft"}));
  EXPECT_EQ(resolve_local_split(dir, std::nullopt, "train_sft").size(), 2u);
  EXPECT_THROW(resolve_local_split(dir, std::nullopt, "train"), UserError);
}

TEST(DatasetFiles, AnUnknownSplitListsTheSplitsThatExist) {
  const std::string dir = make_scratch_dir("unknown-split");
  write_file(dir + "/train.jsonl", "{}\n");
  write_file(dir + "/valid.jsonl", "{}\n");
  try {
    resolve_local_split(dir, std::nullopt, "tset");
    FAIL() << "no error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("the available splits are train, validation"),
              std::string::npos)
        << error.what();
  }
}

TEST(DatasetFiles, AFolderWithoutSplitNamesIsAllTrain) {
  const std::string dir = make_scratch_dir("plain-folder");
  write_file(dir + "/a.txt", "x\n");
  write_file(dir + "/sub/b.jsonl.gz", gzip_bytes("{}\n"));
  EXPECT_EQ(names(dir, resolve_local_split(dir, std::nullopt, "train")),
            (std::vector<std::string>{"a.txt", "sub/b.jsonl.gz"}));
  EXPECT_THROW(resolve_local_split(dir, std::nullopt, "validation"), UserError);
}

TEST(DatasetFiles, ConfigsAreSubfoldersAndAnUnknownOneListsThem) {
  const std::string dir = make_scratch_dir("configs");
  write_file(dir + "/en/train/0000.parquet", "");
  write_file(dir + "/fr/train/0000.parquet", "");
  EXPECT_EQ(names(dir, resolve_local_split(dir, std::string("fr"), "train")),
            (std::vector<std::string>{"fr/train/0000.parquet"}));
  try {
    resolve_local_split(dir, std::string("de"), "train");
    FAIL() << "no error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("en, fr"), std::string::npos) << error.what();
  }
}

TEST(DatasetFiles, GlobsAndSingleFilesAreTheTrainSplit) {
  const std::string dir = make_scratch_dir("globs");
  write_file(dir + "/part-1.txt", "x\n");
  write_file(dir + "/part-2.txt", "y\n");
  write_file(dir + "/test.txt", "z\n");
  EXPECT_EQ(names(dir, resolve_local_split(dir + "/part-*.txt", std::nullopt, "train")),
            (std::vector<std::string>{"part-1.txt", "part-2.txt"}));
  EXPECT_EQ(resolve_local_split(dir + "/test.txt", std::nullopt, "train").size(), 1u);
  EXPECT_THROW(resolve_local_split(dir + "/nothing-*.txt", std::nullopt, "train"), UserError);
  EXPECT_THROW(resolve_local_split(dir + "/missing.txt", std::nullopt, "train"), UserError);
}

}  // namespace
}  // namespace utt::test
