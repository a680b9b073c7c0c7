// Bad input to utt export and to what reads Hugging Face folders: one clear line, exit 2, nothing
// written. Each case starts from a good export of the trained test model and breaks one thing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e/run_utt.h"
#include "e2e/trained_models.h"
#include "io/safetensors.h"

namespace utt::test {
namespace {

// "model-00001-of-00002.safetensors" for part 0 (appended piece by piece: GCC 12 warns falsely,
// -Wrestrict, on a chain of string +).
std::string shard_name(size_t part) {
  std::string name = "model-0000";
  name.append(std::to_string(part + 1)).append("-of-00002.safetensors");
  return name;
}
namespace fs = std::filesystem;
using nlohmann::json;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A fresh HF export of the trained Llama-style test model in dir/hf.
std::string good_hf_folder(const std::string& dir) {
  const std::string model = trained_llama();
  EXPECT_FALSE(model.empty());
  const RunResult r = run_utt({"export", "--checkpoint", model + "/final_checkpoint", "--format", "hf", "--output",
                               dir + "/hf"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir + "/hf";
}

void edit_json(const fs::path& path, const std::function<void(json&)>& change) {
  json j = json::parse(read(path));
  change(j);
  write(path, j.dump(2));
}

// Rewrites a safetensors file through `change`, which may rename, retype or drop tensors.
void rewrite_weights(const fs::path& path,
                     const std::function<void(std::vector<safetensors::TensorToWrite>&)>& change) {
  const safetensors::File file = safetensors::File::read(path.string());
  std::vector<safetensors::TensorToWrite> tensors;
  for (const safetensors::TensorInfo& info : file.tensors()) {
    tensors.push_back({info.name, info.dtype, info.shape, file.data(info)});
  }
  change(tensors);
  safetensors::write_file(path.string(), tensors);
}

// Runs `utt export` from `folder` and expects a refusal naming `words`, with nothing written.
void expect_refused(const std::string& folder, const std::string& dir, const std::vector<std::string>& words) {
  const std::string output = dir + "/out.gguf";
  const RunResult r = run_utt({"export", "--checkpoint", folder, "--format", "gguf", "--output", output}, dir);
  EXPECT_EQ(r.exit_code, 2) << r.err << r.out;
  EXPECT_EQ(r.err.rfind("utt: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  for (const std::string& word : words) EXPECT_NE(r.err.find(word), std::string::npos) << word << " in " << r.err;
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(fs::exists(output + ".tmp"));
}

TEST(ExportBadInput, AnUnsupportedArchitectureIsRefusedByName) {
  const std::string dir = scratch_dir("bad_arch");
  const std::string hf = good_hf_folder(dir);
  edit_json(hf + "/config.json", [](json& j) {
    j["model_type"] = "mistral";
    j["architectures"] = {"MistralForCausalLM"};
  });
  expect_refused(hf, dir, {"MistralForCausalLM", "LlamaForCausalLM and GPT2LMHeadModel"});
}

TEST(ExportBadInput, ShapesThatContradictConfigJsonAreRefused) {
  const std::string dir = scratch_dir("bad_shape");
  const std::string hf = good_hf_folder(dir);
  edit_json(hf + "/config.json", [](json& j) { j["intermediate_size"] = 170; });
  expect_refused(hf, dir, {"has shape", "[170, 64]", "different models"});
}

TEST(ExportBadInput, AWeightThatIsNotFloatingPointIsRefused) {
  const std::string dir = scratch_dir("bad_dtype");
  const std::string hf = good_hf_folder(dir);
  rewrite_weights(hf + "/model.safetensors", [](std::vector<safetensors::TensorToWrite>& tensors) {
    for (auto& t : tensors) {
      if (t.name == "model.norm.weight") t.dtype = safetensors::Dtype::kI32;  // same size, wrong type
    }
  });
  expect_refused(hf, dir, {"model.norm.weight", "I32", "floating-point"});
}

TEST(ExportBadInput, AMissingTensorIsRefusedByName) {
  const std::string dir = scratch_dir("bad_missing_tensor");
  const std::string hf = good_hf_folder(dir);
  rewrite_weights(hf + "/model.safetensors", [](std::vector<safetensors::TensorToWrite>& tensors) {
    std::erase_if(tensors, [](const auto& t) { return t.name == "lm_head.weight"; });
  });
  expect_refused(hf, dir, {"lm_head.weight"});
}

TEST(ExportBadInput, AMissingWeightFileIsRefused) {
  const std::string dir = scratch_dir("bad_no_weights");
  const std::string hf = good_hf_folder(dir);
  fs::remove(hf + "/model.safetensors");
  expect_refused(hf, dir, {"no model.safetensors"});
}

// Splits dir/model.safetensors into two shards and an index, as save_pretrained does.
void shard(const std::string& hf) {
  const safetensors::File file = safetensors::File::read(hf + "/model.safetensors");
  std::vector<safetensors::TensorToWrite> parts[2];
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const safetensors::TensorInfo& info = file.tensors()[i];
    const size_t part = i < file.tensors().size() / 2 ? 0 : 1;
    parts[part].push_back({info.name, info.dtype, info.shape, file.data(info)});
    index["weight_map"][info.name] = shard_name(part);
  }
  for (size_t part = 0; part < 2; ++part) {
    safetensors::write_file(hf + "/" + shard_name(part), parts[part]);
  }
  write(hf + "/model.safetensors.index.json", index.dump(2));
  fs::remove(hf + "/model.safetensors");
}

TEST(ExportHf, ShardedFoldersReadLikeASingleFile) {
  const std::string dir = scratch_dir("sharded");
  const std::string hf = good_hf_folder(dir);
  ASSERT_EQ(run_utt({"export", "--checkpoint", hf, "--format", "gguf", "--output", dir + "/one.gguf"}, dir).exit_code, 0);
  shard(hf);
  const RunResult r = run_utt({"export", "--checkpoint", hf, "--format", "gguf", "--output", dir + "/two.gguf"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read(dir + "/one.gguf") == read(dir + "/two.gguf"));
}

TEST(ExportBadInput, AnIncompleteShardedCheckpointIsRefused) {
  const std::string dir = scratch_dir("bad_shards");
  const std::string hf = good_hf_folder(dir);
  shard(hf);
  fs::remove(hf + "/model-00002-of-00002.safetensors");
  expect_refused(hf, dir, {"incomplete", "model-00002-of-00002.safetensors", "missing"});
}

TEST(ExportBadInput, ATokenizerThatDoesNotMatchTheVocabularyIsRefused) {
  const std::string dir = scratch_dir("bad_tokenizer");
  const std::string hf = good_hf_folder(dir);
  const std::string other = trained_gpt2();
  ASSERT_FALSE(other.empty());
  fs::copy_file(other + "/final_checkpoint/tokenizer.json", hf + "/tokenizer.json", fs::copy_options::overwrite_existing);
  expect_refused(hf, dir, {"tokenizer.json has 500 tokens", "vocab_size is 600"});
}

// A utt checkpoint whose model_config.json says `change`: refused before its weights are read.
void expect_architecture_refused(const std::function<void(json&)>& change, const std::vector<std::string>& words) {
  const std::string dir = scratch_dir("bad_architecture");
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  fs::copy(model + "/final_checkpoint", dir + "/checkpoint");
  edit_json(dir + "/checkpoint/model_config.json", [&](json& j) {
    change(j);
    j.erase("ffn");  // derived from swiglu and activation (a file without it reads as theirs)
  });
  expect_refused(dir + "/checkpoint", dir, words);
}

TEST(ExportBadInput, ArchitecturesWithoutAnEquivalentAreRefusedWithTheFlagsThatWouldExport) {
  expect_architecture_refused([](json& j) { j["rmsnorm"] = false; }, {"LayerNorm with SwiGLU", "--rmsnorm"});
  expect_architecture_refused([](json& j) { j["swiglu"] = false; }, {"RMSNorm with a plain MLP", "--swiglu"});
  expect_architecture_refused([](json& j) { j["rope"] = false; }, {"learned positions", "--rope"});
  expect_architecture_refused([](json& j) { j["rmsnorm"] = j["swiglu"] = j["rope"] = false; },
                              {"grouped-query", "--num-kv-heads"});
}

TEST(ExportBadInput, TheOutputMayNotBeTheCheckpointItself) {
  const std::string dir = scratch_dir("bad_output");
  const std::string hf = good_hf_folder(dir);
  const std::string before = read(hf + "/model.safetensors");
  const RunResult r = run_utt({"export", "--checkpoint", hf, "--format", "hf", "--output", hf}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is the checkpoint being exported"), std::string::npos) << r.err;
  EXPECT_TRUE(read(hf + "/model.safetensors") == before);
}

}  // namespace
}  // namespace utt::test
