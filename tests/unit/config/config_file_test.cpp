#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/train_flags.h"
#include "config/config_file.h"
#include "util/error.h"

namespace utt {
namespace {

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("utt_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string error_of(const std::vector<std::string>& args) {
    try {
      parse_train_args(args);
      return "";
    } catch (const UserError& error) {
      return error.what();
    }
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFile, TomlSetsFlagsWithUnderscoresOrDashes) {
  const std::string path = write("run.toml",
                                 "dataset_id = \"org/name\"\n"
                                 "batch-size = 16\n"
                                 "learning_rate = 3e-4\n"
                                 "no_rope = true\n"
                                 "use_streaming = false\n");
  const TrainConfig c = parse_train_args({"--config", path});
  EXPECT_EQ(c.dataset_id, "org/name");
  EXPECT_EQ(c.batch_size, 16);
  EXPECT_DOUBLE_EQ(c.learning_rate, 3e-4);
  EXPECT_FALSE(c.model.rope);
  EXPECT_FALSE(c.use_streaming);
  EXPECT_TRUE(c.was_set("batch-size"));
  EXPECT_EQ(c.config_file, path);
}

TEST_F(ConfigFile, JsonWorksAndCommandLineOverridesTheFile) {
  const std::string path = write("run.json", R"({"batch_size": 16, "model-preset": "tiny", "val_split": null})");
  const TrainConfig c = parse_train_args({"--batch-size", "8", "--config", path});
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(*c.model_preset, "tiny");
  EXPECT_FALSE(c.val_split.has_value());
}

TEST_F(ConfigFile, UnknownKeyIsNamedWithTheFile) {
  const std::string path = write("run.toml", "batch_sise = 3\n");
  const std::string message = error_of({"--config", path});
  EXPECT_NE(message.find("--batch-sise"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean --batch-size"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST_F(ConfigFile, SyntaxErrorsGiveTheLine) {
  const std::string message = error_of({"--config", write("bad.toml", "a = 1\nb = = 2\n")});
  EXPECT_NE(message.find("not valid TOML (line 2"), std::string::npos) << message;
  EXPECT_NE(error_of({"--config", write("bad.json", "{\"a\": }")}).find("not valid JSON"), std::string::npos);
}

TEST_F(ConfigFile, UnreadableFilesAreRefused) {
  EXPECT_NE(error_of({"--config", (dir_ / "missing.toml").string()}).find("no such file"), std::string::npos);
  EXPECT_NE(error_of({"--config", dir_.string()}).find("is a directory"), std::string::npos);
}

TEST_F(ConfigFile, NonScalarValuesAreRefused) {
  EXPECT_NE(error_of({"--config", write("a.toml", "epochs = [1, 2]\n")}).find("must be a string, number"),
            std::string::npos);
}

TEST_F(ConfigFile, ConfigCannotNestAnotherConfig) {
  EXPECT_NE(error_of({"--config", write("a.toml", "config = \"b.toml\"\n")}).find("cannot be set inside"),
            std::string::npos);
}

}  // namespace
}  // namespace utt
