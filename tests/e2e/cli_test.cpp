// The command line as a whole: help at every level, version, subcommands, the guide's name.
#include <gtest/gtest.h>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Cli, VersionPrintsTheVersionAndTheBackend) {
  const RunResult r = run_utt({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "utt 0.")) << r.out;
  EXPECT_TRUE(contains(r.out, "CUDA backend:")) << r.out;
}

TEST(Cli, HelpAtEveryLevel) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"train", "--help"}, {"train", "-h"},
        {"presets", "--help"}}) {
    const RunResult r = run_utt(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_TRUE(contains(r.out, "Usage: utt")) << r.out;
    EXPECT_EQ(r.err, "");
  }
  EXPECT_TRUE(contains(run_utt({"--help"}).out, "presets"));
}

TEST(Cli, NoArgumentsPrintsUsageAndFails) {
  const RunResult r = run_utt({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.out, "Commands:"));
}

TEST(Cli, UnknownCommandSuggestsTheClosest) {
  const RunResult r = run_utt({"trian"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "did you mean utt train?")) << r.err;
}

TEST(Cli, TrainUltimateBehavesAsUttTrain) {
  const std::string program = binary_dir() + "/train_ultimate";
  const RunResult help = run_program(program, {"--help"}, scratch_dir("tu"));
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "Usage: utt train"));
  const RunResult dry = run_program(
      program, {"--dataset-id", "org/name", "--model-preset", "nano", "--dry-run"}, scratch_dir("tu"));
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(contains(dry.out, "Parameters: 3,622,528")) << dry.out;
}

TEST(Cli, PresetsPrintsExactCounts) {
  const RunResult r = run_utt({"presets"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // nano at vocabulary 16000: 16000*128 embedding + 6 layers of 262,400 + final norm 128.
  EXPECT_TRUE(contains(r.out, "3,622,528")) << r.out;
  for (const char* name : {"nano", "tiny", "small", "medium", "large", "xlarge"}) {
    EXPECT_TRUE(contains(r.out, name)) << name;
  }
}

TEST(Cli, PresetsFollowTheVocabularyAndArchitecture) {
  const RunResult r = run_utt({"presets", "--vocab-size", "8192", "--no-swiglu"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // nano, MLP: 8192*128 + 6 * (2*128 + 4*128^2 + 2*128*512) + 128
  EXPECT_TRUE(contains(r.out, "2,229,888")) << r.out;
  EXPECT_TRUE(contains(r.out, "(RMSNorm, MLP (gelu), RoPE")) << r.out;
  // The gated FFN, left to its default, is SwiGLU; --activation picks its gate.
  EXPECT_TRUE(contains(run_utt({"presets"}).out, "(RMSNorm, SwiGLU, RoPE"));
  EXPECT_TRUE(contains(run_utt({"presets", "--activation", "relu"}).out, "(RMSNorm, ReGLU, RoPE"));
  const RunResult bad = run_utt({"presets", "--epochs", "3"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "does not take --epochs")) << bad.err;
}

}  // namespace
}  // namespace utt::test
