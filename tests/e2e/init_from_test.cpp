// utt train --init-from: a run starts from a utt checkpoint or a Hugging Face folder, with the
// folder's architecture and tokenizer; an HF export re-imports bit-exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/run_utt.h"
#include "e2e/trained_models.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> fine_tune(const std::string& from, const std::string& output_dir) {
  return {"train", "--init-from", from, "--dataset-id", demo_corpus(), "--max-train-examples", "5",
          "--batch-size", "2", "--max-steps", "3", "--warmup-steps", "1", "--learning-rate", "1e-3",
          "--save-every", "100", "--threads", "2", "--dropout-rate", "0", "--output-dir", output_dir};
}

// The same short fine-tune from the checkpoint and from its HF export gives the same bits.
TEST(InitFrom, AnHfExportStartsExactlyTheRunItsCheckpointStarts) {
  for (const std::string& model : {trained_llama(), trained_gpt2()}) {
    ASSERT_FALSE(model.empty());
    const std::string dir = scratch_dir("init_from");
    const std::string checkpoint = model + "/final_checkpoint";
    ASSERT_EQ(run_utt({"export", "--checkpoint", checkpoint, "--format", "hf", "--output", dir + "/hf"}, dir).exit_code, 0);
    const RunResult from_utt = run_utt(fine_tune(checkpoint, dir + "/a"), dir);
    ASSERT_EQ(from_utt.exit_code, 0) << from_utt.err;
    const RunResult from_hf = run_utt(fine_tune(dir + "/hf", dir + "/b"), dir);
    ASSERT_EQ(from_hf.exit_code, 0) << from_hf.err;
    EXPECT_NE(from_hf.out.find("Initialized from " + dir + "/hf"), std::string::npos) << from_hf.out;
    EXPECT_TRUE(read(dir + "/a/final_checkpoint/model.safetensors") == read(dir + "/b/final_checkpoint/model.safetensors"))
        << model;
    EXPECT_EQ(read(dir + "/a/final_checkpoint/model_config.json"), read(checkpoint + "/model_config.json"));
    EXPECT_EQ(read(dir + "/b/final_checkpoint/tokenizer.json"), read(checkpoint + "/tokenizer.json"));
  }
}

void expect_refused(const std::vector<std::string>& extra, const std::string& word) {
  const std::string dir = scratch_dir("init_from_bad");
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  std::vector<std::string> args = fine_tune(model + "/final_checkpoint", dir + "/out");
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = run_utt(args, dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err.rfind("utt: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(word), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

TEST(InitFrom, AnArchitectureFlagThatContradictsTheModelIsRefused) {
  expect_refused({"--d-model", "128"}, "--d-model 128 contradicts the model");
  expect_refused({"--no-rope"}, "--rope off contradicts the model");
  expect_refused({"--model-preset", "nano"}, "--model-preset cannot be combined with --init-from");
  expect_refused({"--tokenizer-path", "x.json"}, "--tokenizer-path cannot be combined with --init-from");
}

TEST(InitFrom, ABadFolderIsRefusedBeforeAnythingIsWritten) {
  const std::string dir = scratch_dir("init_from_bad_folder");
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  ASSERT_EQ(run_utt({"export", "--checkpoint", model + "/final_checkpoint", "--format", "hf", "--output",
                     dir + "/hf"}, dir).exit_code, 0);
  fs::remove(dir + "/hf/model.safetensors");
  const RunResult r = run_utt(fine_tune(dir + "/hf", dir + "/out"), dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has no model.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

}  // namespace
}  // namespace utt::test
