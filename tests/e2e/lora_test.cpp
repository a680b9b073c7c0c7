// LoRA fine-tuning end to end: checkpoints hold only the adapters, in PEFT's layout, beside a
// reference to the base; a resumed run equals an uninterrupted one bit for bit; PEFT's merge
// (applied by an independent PyTorch script to the base's HF export) computes what utt's merged
// export computes; train --export writes both formats at the end.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e/run_utt.h"
#include "e2e/trained_models.h"
#include "io/safetensors.h"
#include "test_paths.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lora_run(const std::string& base, const std::string& output_dir, const std::string& targets,
                                  double dropout) {
  return {"train", "--init-from", base, "--use-lora", "--lora-rank", "4", "--lora-targets", targets,
          "--lora-dropout", std::to_string(dropout), "--dataset-id", demo_corpus(), "--max-train-examples", "5",
          "--batch-size", "2", "--max-steps", "12", "--warmup-steps", "2", "--learning-rate", "2e-2",
          "--save-every", "6", "--log-every", "6", "--threads", "2", "--seed", "3", "--dropout-rate", "0",
          "--output-dir", output_dir};
}

TEST(LoraRun, CheckpointsHoldOnlyTheAdaptersInPeftLayout) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("lora_files");
  const RunResult r = run_utt(lora_run(model + "/final_checkpoint", dir + "/out", "q,v", 0.0), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path final_dir = dir + "/out/final_checkpoint";
  EXPECT_FALSE(fs::exists(final_dir / "model.safetensors"));
  for (const char* file : {"adapter_config.json", "adapter_model.safetensors", "lora.json", "optimizer.safetensors",
                           "trainer_state.json", "model_config.json", "tokenizer.json"}) {
    EXPECT_TRUE(fs::exists(final_dir / file)) << file;
  }
  const json config = json::parse(read(final_dir / "adapter_config.json"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8.0);  // default: 2 x rank
  EXPECT_EQ(config["target_modules"], json({"q_proj", "v_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], fs::absolute(model + "/final_checkpoint").lexically_normal().string());
  const safetensors::File adapters = safetensors::File::read((final_dir / "adapter_model.safetensors").string());
  EXPECT_EQ(adapters.tensors().size(), 2u * 2u * 2u);  // 2 layers x (q, v) x (A, B)
  EXPECT_EQ(adapters.at("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight").shape,
            (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(adapters.at("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape,
            (std::vector<int64_t>{32, 4}));  // 2 kv heads of 16
  // The optimizer state covers the adapters only.
  const safetensors::File optimizer = safetensors::File::read((final_dir / "optimizer.safetensors").string());
  EXPECT_EQ(optimizer.at("exp_avg.adapters").element_count(), 2 * (4 * 64 + 4 * 64 + 4 * 64 + 4 * 32));
}

TEST(LoraRun, ResumedRunEqualsUninterruptedRun) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("lora_resume");
  const std::string base = model + "/final_checkpoint";
  ASSERT_EQ(run_utt(lora_run(base, dir + "/whole", "q,k,v,o,gate,up,down", 0.1), dir).exit_code, 0);
  ASSERT_EQ(run_utt(lora_run(base, dir + "/part", "q,k,v,o,gate,up,down", 0.1), dir).exit_code, 0);
  fs::remove_all(dir + "/part/final_checkpoint");
  std::vector<std::string> resume = lora_run(base, dir + "/part", "q,k,v,o,gate,up,down", 0.1);
  resume.insert(resume.end(), {"--resume-from", dir + "/part/checkpoint_step_6"});
  const RunResult r = run_utt(resume, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Resuming from"), std::string::npos);
  for (const char* file : {"adapter_model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(read(dir + "/whole/final_checkpoint/" + file) == read(dir + "/part/final_checkpoint/" + file)) << file;
  }
}

TEST(LoraRun, ResumeWithOtherLoraSettingsIsRefused) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("lora_resume_bad");
  const std::string base = model + "/final_checkpoint";
  ASSERT_EQ(run_utt(lora_run(base, dir + "/out", "q,v", 0.0), dir).exit_code, 0);
  // Into another output directory: this one already holds the run's later checkpoints.
  std::vector<std::string> resume = lora_run(base, dir + "/other", "q,k,v", 0.0);
  resume.insert(resume.end(), {"--resume-from", dir + "/out/checkpoint_step_6"});
  const RunResult r = run_utt(resume, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--lora-targets q,v; use the same flags"), std::string::npos) << r.err;
}

// PEFT's own merge rule applied to the base's HF export and the PEFT files must give the model
// utt exports with the adapters merged: for Llama, and for GPT-2 (q/k/v adapters on its fused
// Conv1D c_attn, with rank_pattern and fan_in_fan_out).
void expect_peft_merge_agrees(const std::string& model, const std::string& targets) {
  const std::string dir = scratch_dir("lora_peft");
  const std::string base = model + "/final_checkpoint";
  const RunResult trained = run_utt(lora_run(base, dir + "/out", targets, 0.0), dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string adapters = dir + "/out/final_checkpoint";
  ASSERT_EQ(run_utt({"export", "--checkpoint", base, "--format", "hf", "--output", dir + "/base_hf"}, dir).exit_code, 0);
  const RunResult merged = run_utt({"export", "--checkpoint", adapters, "--format", "hf", "--output", dir + "/merged_hf"}, dir);
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_NE(merged.out.find("LoRA checkpoint (merged into"), std::string::npos) << merged.out;

  std::ifstream validation(demo_corpus() + "/validation.jsonl");
  json request = {{"windows", json::array()}};
  // Any 49 token ids make a window: the point is equal outputs, not good ones.
  json window = json::array();
  for (int i = 0; i < 49; ++i) window.push_back((i * 37 + 11) % 400);
  request["windows"].push_back(window);
  std::ofstream(dir + "/request.json") << request.dump();
  const std::string script = source_dir() + "/tests/tools/hf_reference.py";
  const RunResult peft = run_program("/usr/bin/python3", {script, dir + "/base_hf", dir + "/request.json", adapters}, dir);
  if (peft.exit_code == 77) GTEST_SKIP() << peft.err;
  ASSERT_EQ(peft.exit_code, 0) << peft.err;
  const RunResult ours = run_program("/usr/bin/python3", {script, dir + "/merged_hf", dir + "/request.json"}, dir);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  const RunResult plain = run_program("/usr/bin/python3", {script, dir + "/base_hf", dir + "/request.json"}, dir);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const json a = json::parse(peft.out)["logprobs"][0], b = json::parse(ours.out)["logprobs"][0],
             base_lp = json::parse(plain.out)["logprobs"][0];
  double worst = 0, moved = 0;
  for (size_t t = 0; t < a.size(); ++t) {
    worst = std::max(worst, std::abs(a[t].get<double>() - b[t].get<double>()));
    moved = std::max(moved, std::abs(a[t].get<double>() - base_lp[t].get<double>()));
  }
  EXPECT_LE(worst, 1e-5) << "PEFT's merge and utt's differ";  // f32 merges of the same products
  EXPECT_GT(moved, 1e-3) << "the adapters did not change the model";
}

TEST(LoraRun, PeftMergeOfTheAdaptersEqualsUttsMergedExportForLlama) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  expect_peft_merge_agrees(model, "q,v,o,gate,down");
}

TEST(LoraRun, PeftMergeOfTheAdaptersEqualsUttsMergedExportForGpt2) {
  const std::string model = trained_gpt2();
  ASSERT_FALSE(model.empty());
  expect_peft_merge_agrees(model, "q,v,o,up,down");
}

// generate and eval read a LoRA checkpoint as the merged model it stands for.
TEST(LoraRun, GenerateAndEvalRunOnALoraCheckpointAsOnItsMergedExport) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("lora_generate");
  ASSERT_EQ(run_utt(lora_run(model + "/final_checkpoint", dir + "/out", "q,v,o", 0.0), dir).exit_code, 0);
  const std::string adapters = dir + "/out/final_checkpoint";
  ASSERT_EQ(run_utt({"export", "--checkpoint", adapters, "--format", "hf", "--output", dir + "/merged"}, dir).exit_code, 0);
  std::string outputs[2];
  for (int i = 0; i < 2; ++i) {
    const std::string checkpoint = i == 0 ? adapters : dir + "/merged";
    const RunResult g = run_utt({"generate", "--checkpoint", checkpoint, "--prompt", "The Congress", "--temperature", "0",
                                 "--max-new-tokens", "12"}, dir);
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const RunResult e = run_utt({"eval", "--checkpoint", checkpoint, "--dataset-id", demo_corpus(), "--batch-size", "2",
                                 "--max-batches", "2"}, dir);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    outputs[i] = g.out + e.out;
  }
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(LoraRun, TrainExportWritesBothFormatsAtTheEnd) {
  const std::string model = trained_llama();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("train_export");
  std::vector<std::string> args = lora_run(model + "/final_checkpoint", dir + "/out", "q,v", 0.0);
  args.insert(args.end(), {"--export", "hf,gguf"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/out/export_hf/config.json"));
  EXPECT_TRUE(fs::exists(dir + "/out/export_hf/model.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/out/model.gguf"));
  // The same as exporting the final checkpoint by hand.
  ASSERT_EQ(run_utt({"export", "--checkpoint", dir + "/out/final_checkpoint", "--format", "gguf", "--output",
                     dir + "/again.gguf"}, dir).exit_code, 0);
  EXPECT_TRUE(read(dir + "/out/model.gguf") == read(dir + "/again.gguf"));
}

TEST(LoraRun, RequestsThatCannotWorkAreRefusedBeforeTraining) {
  const std::string model = trained_gpt2();
  ASSERT_FALSE(model.empty());
  const std::string dir = scratch_dir("lora_bad");
  const RunResult gate = run_utt(lora_run(model + "/final_checkpoint", dir + "/out", "q,gate", 0.0), dir);
  EXPECT_EQ(gate.exit_code, 2);
  EXPECT_NE(gate.err.find("--lora-targets gate needs a SwiGLU model"), std::string::npos) << gate.err;
  std::vector<std::string> args = lora_run(model + "/final_checkpoint", dir + "/out", "q", 0.0);
  args.insert(args.end(), {"--export", "hf,onnx"});
  const RunResult format = run_utt(args, dir);
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_NE(format.err.find("unknown --export format 'onnx'"), std::string::npos) << format.err;
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

}  // namespace
}  // namespace utt::test
