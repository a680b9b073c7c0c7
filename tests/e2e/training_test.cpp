// utt train for real, on a few State of the Union addresses and a tiny model: the output
// directory of the guide, falling loss, exact resume, clean stops, generation and evaluation.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e/run_utt.h"
#include "e2e/training_runs.h"
#include "test_paths.h"

namespace utt::test {
namespace {
namespace fs = std::filesystem;

TEST(Training, WritesTheGuidesOutputDirectoryAndTheLossFalls) {
  const std::string dir = scratch_dir("train");
  const RunResult r = run_utt(tiny_run(dir + "/out", 30), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const fs::path out = dir + "/out";
  for (const char* name : {"tokenizer.json", "model_config.json", "training_summary.json", "metrics.jsonl",
                           "best_checkpoint/model.safetensors", "final_checkpoint/model.safetensors",
                           "final_checkpoint/optimizer.safetensors", "final_checkpoint/trainer_state.json",
                           "final_checkpoint/model_config.json", "final_checkpoint/tokenizer.json",
                           "checkpoint_step_10/model.safetensors", "checkpoint_step_20/model.safetensors"}) {
    EXPECT_TRUE(fs::exists(out / name)) << name;
  }
  for (const char* line : {"Backend: CPU", "Devices: 1x cpu", "Step      5 \u2502 Loss: ",
                           "\u2502 Tokens/sec: ", "  Validation loss: ", "(4 batches)",
                           "\u2713 New best validation loss! Saving to: "}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << r.out;
  }
  const nlohmann::json summary = nlohmann::json::parse(read(out / "training_summary.json"));
  EXPECT_EQ(summary["steps"], 30);
  EXPECT_EQ(summary["tokens"], 30 * 4 * 32);
  EXPECT_EQ(summary["configuration"]["d_model"], 64);
  EXPECT_GT(summary["parameters"].get<int64_t>(), 0);
  EXPECT_TRUE(summary["best_val_loss"].is_number());
  // Compute reporting: the model FLOPs of every token, over this machine's measured peak.
  EXPECT_NE(r.out.find("Compute: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" \u2502 MFU: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" \u2502 Peak mem: "), std::string::npos) << r.out;
  EXPECT_GT(summary["flops_per_token"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(summary["flops_per_second"].get<double>(),
                   summary["tokens_per_second"].get<double>() * summary["flops_per_token"].get<double>());
  EXPECT_GT(summary["mfu"].get<double>(), 0);
  EXPECT_GT(summary["peak_memory_bytes"].get<int64_t>(), 0);
  const auto rows = metrics(out);
  double first = -1, last = -1;
  for (const auto& row : rows) {
    if (!row.contains("loss")) continue;
    if (first < 0) first = row["loss"];
    last = row["loss"];
  }
  // ln(600) = 6.4 at the start; 30 steps at 3e-3 reach about 5.5 (a broken backward stays near 6.4).
  EXPECT_GT(first, 5.5);
  EXPECT_LT(last, first - 0.7) << "the loss did not fall: " << first << " -> " << last;
}

void expect_resume_is_exact(const std::vector<std::string>& extra) {
  const std::string dir = scratch_dir("resume");
  std::vector<std::string> full = tiny_run(dir + "/full", 20);
  full.insert(full.end(), extra.begin(), extra.end());
  ASSERT_EQ(run_utt(full, dir).exit_code, 0);

  // The resumed run starts from the uninterrupted run's step-10 checkpoint, in an output
  // directory of its own holding only that checkpoint and the tokenizer.
  fs::create_directories(dir + "/resumed");
  fs::copy(dir + "/full/tokenizer.json", dir + "/resumed/tokenizer.json");
  fs::copy(dir + "/full/checkpoint_step_10", dir + "/resumed/checkpoint_step_10", fs::copy_options::recursive);
  std::vector<std::string> resumed = tiny_run(dir + "/resumed", 20);
  resumed.insert(resumed.end(), extra.begin(), extra.end());
  resumed.insert(resumed.end(), {"--resume-from", "latest"});
  const RunResult r = run_utt(resumed, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Resuming from"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Step      5 "), std::string::npos) << "the resumed run repeated steps";
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(read(dir + "/full/final_checkpoint/" + file) == read(dir + "/resumed/final_checkpoint/" + file))
        << file << " differs between the uninterrupted and the resumed run";
  }
}

TEST(Training, BatchesMixWindowsOfManyOfAFewLongDocuments) {
  // 12 addresses of ~46 KB: about 580 windows of 33 tokens each. In stream order a batch of 4
  // is 4 neighbouring windows of one address; drawn from the whole epoch, 4 windows come from
  // 12 * (1 - (11/12)^4) = 3.55 addresses on average.
  const std::string dir = scratch_dir("batch-mix");
  RunResult r = run_utt(tiny_run(dir + "/mixed", 30), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Batches: 4 windows of 33 tokens, drawn from shuffled blocks of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a batch mixes ~3."), std::string::npos) << r.out;
  const nlohmann::json mixed = nlohmann::json::parse(read(fs::path(dir) / "mixed/training_summary.json"));
  EXPECT_GT(mixed["documents_per_batch"].get<double>(), 3.0);

  std::vector<std::string> in_order = tiny_run(dir + "/in-order", 30);
  in_order.insert(in_order.end(), {"--window-shuffle-size", "1"});
  r = run_utt(in_order, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const nlohmann::json ordered = nlohmann::json::parse(read(fs::path(dir) / "in-order/training_summary.json"));
  EXPECT_LT(ordered["documents_per_batch"].get<double>(), 1.2);

  // utt data stats makes the same batches and says the same.
  r = run_utt({"data", "stats", "--dataset-id", corpus(), "--tokenizer", dir + "/mixed/tokenizer.json",
               "--batch-size", "4", "--seq-len", "32", "--seed", "7"},
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const size_t at = r.out.find("documents_per_batch: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stod(r.out.substr(at + 21)), 3.0) << r.out;
}

TEST(Training, ResumedRunEqualsUninterruptedRunBitForBit) { expect_resume_is_exact({}); }

TEST(Training, ResumedRunEqualsUninterruptedRunWithTheTokenCache) {
  expect_resume_is_exact({"--no-use-streaming"});
}

TEST(Training, MixedPrecisionResumesExactly) { expect_resume_is_exact({"--use-mixed-precision"}); }

// bf16 matmul operands with fp32 accumulation, master weights and optimizer: after a fixed budget
// of steps the validation loss is that of the fp32 run to within 1%.
TEST(Training, MixedPrecisionReachesTheFp32ValidationLoss) {
  const std::string dir = scratch_dir("mixed");
  ASSERT_EQ(run_utt(tiny_run(dir + "/fp32", 30), dir).exit_code, 0);
  // Reuses the fp32 run's tokenizer, so both runs see the same tokens.
  fs::create_directories(dir + "/bf16");
  fs::copy(dir + "/fp32/tokenizer.json", dir + "/bf16/tokenizer.json");
  std::vector<std::string> mixed = tiny_run(dir + "/bf16", 30);
  mixed.push_back("--use-mixed-precision");
  const RunResult r = run_utt(mixed, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Precision: bf16 matmuls with fp32 accumulation"), std::string::npos) << r.out;
  const auto best = [&](const char* run) {
    return nlohmann::json::parse(read(fs::path(dir) / run / "training_summary.json"))["best_val_loss"]
        .get<double>();
  };
  const double fp32 = best("fp32"), bf16 = best("bf16");
  EXPECT_NE(fp32, bf16) << "the mixed-precision run computed exactly the fp32 run";
  EXPECT_LT(std::abs(bf16 - fp32), 0.01 * fp32) << "fp32 " << fp32 << ", bf16 " << bf16;
}

// --activation-checkpointing recomputes what it does not keep: the same training bit for bit.
TEST(Training, ActivationCheckpointingTrainsTheSameWeightsInLessMemory) {
  const std::string dir = scratch_dir("checkpointing");
  std::vector<std::string> kept = tiny_run(dir + "/kept", 10);
  kept.insert(kept.end(), {"--dropout-rate", "0.1", "--peak-tflops", "0.5"});
  std::vector<std::string> recomputed = tiny_run(dir + "/recomputed", 10);
  recomputed.insert(recomputed.end(), {"--dropout-rate", "0.1", "--peak-tflops", "0.5", "--activation-checkpointing"});
  ASSERT_EQ(run_utt(kept, dir).exit_code, 0);
  const RunResult r = run_utt(recomputed, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read(dir + "/kept/final_checkpoint/model.safetensors") ==
              read(dir + "/recomputed/final_checkpoint/model.safetensors"))
      << "recomputing the activations changed the training";
  const nlohmann::json kept_summary = nlohmann::json::parse(read(dir + "/kept/training_summary.json"));
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/recomputed/training_summary.json"));
  EXPECT_LT(summary["peak_memory_bytes"].get<int64_t>(), kept_summary["peak_memory_bytes"].get<int64_t>());
  // --peak-tflops sets the peak the MFU is measured against.
  EXPECT_EQ(summary["peak_flops_per_second"], 5e11);
  EXPECT_EQ(summary["peak_flops_source"], "--peak-tflops 0.5");
  EXPECT_DOUBLE_EQ(summary["mfu"].get<double>(), summary["flops_per_second"].get<double>() / 5e11);
}

// Users extend runs: a larger --max-steps on resume re-plans the cosine from where the run
// stands, and says so.
TEST(Training, ResumeWithMoreStepsContinuesTheScheduleFromTheResumePoint) {
  const std::string dir = scratch_dir("extend");
  ASSERT_EQ(run_utt(tiny_run(dir + "/full", 20), dir).exit_code, 0);
  fs::create_directories(dir + "/extended");
  fs::copy(dir + "/full/checkpoint_step_10", dir + "/extended/checkpoint_step_10", fs::copy_options::recursive);
  std::vector<std::string> args = tiny_run(dir + "/extended", 30);
  args.insert(args.end(), {"--resume-from", "latest"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Resuming from " + dir + "/extended/checkpoint_step_10 at step 10 of 30"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Schedule: 30 steps instead of the checkpoint's 20; re-planned from the resume point: the "
                       "learning rate falls from "),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" at step 11 along a new cosine to 3.000e-04 at step 30"), std::string::npos) << r.out;
  auto lr_at = [](const fs::path& out, int64_t step) {
    for (const nlohmann::json& row : metrics(out)) {
      if (row.contains("lr") && row["step"] == step) return row["lr"].get<double>();
    }
    return -1.0;
  };
  EXPECT_GT(lr_at(dir + "/extended", 15), lr_at(dir + "/full", 15)) << "the decay was not stretched";
  // The last step's rate is one step short of the floor (10% of --learning-rate), as in any run.
  EXPECT_GT(lr_at(dir + "/extended", 25), lr_at(dir + "/extended", 30));
  EXPECT_GT(lr_at(dir + "/extended", 30), 3e-4);
  EXPECT_LT(lr_at(dir + "/extended", 30), 3.2e-4);
  const nlohmann::json summary = nlohmann::json::parse(read(dir + "/extended/training_summary.json"));
  EXPECT_EQ(summary["steps"], 30);
  EXPECT_EQ(summary["total_steps"], 30);
}

// A run of one whole epoch, then resumed for a second: epochs_completed counts both.
TEST(Training, ResumeWithMoreEpochsTrainsTheNewEpochs) {
  const std::string dir = scratch_dir("epochs");
  const std::vector<std::string> one_epoch = {
      "train", "--dataset-id", corpus(), "--max-train-examples", "2", "--vocab-size", "300",
      "--d-model", "32", "--num-layers", "1", "--num-heads", "2", "--d-ff", "64", "--seq-len", "16",
      "--batch-size", "8", "--warmup-steps", "5", "--log-every", "50", "--epochs", "1", "--seed", "7",
      "--threads", "2", "--output-dir", dir + "/out"};
  const RunResult first = run_utt(one_epoch, dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find(" optimizer steps (1 epoch)\n"), std::string::npos) << first.out;
  const nlohmann::json one = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(one["epochs_completed"], 1);
  const int64_t steps = one["steps"];

  std::vector<std::string> two_epochs = one_epoch;
  two_epochs.insert(two_epochs.end(), {"--epochs", "2", "--resume-from", "latest"});
  const RunResult second = run_utt(two_epochs, dir);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find(fmt::format("at step {} of {}", steps, 2 * steps)), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("its decay had ended, so the learning rate stays at the floor"), std::string::npos)
      << second.out;
  const nlohmann::json two = nlohmann::json::parse(read(dir + "/out/training_summary.json"));
  EXPECT_EQ(two["steps"], 2 * steps);
  EXPECT_EQ(two["epochs_completed"], 2);
}

TEST(Training, ResumeWithAnotherArchitectureIsRefused) {
  const std::string dir = scratch_dir("incompatible");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 10), dir).exit_code, 0);
  std::vector<std::string> args = tiny_run(dir + "/out", 10);
  args.insert(args.end(), {"--num-layers", "3", "--resume-from", dir + "/out/final_checkpoint"});
  const RunResult r = run_utt(args, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("num_layers 2 vs 3"), std::string::npos) << r.err;
}

TEST(Training, SigintSavesACheckpointAndSaysHowToResume) {
  const std::string dir = scratch_dir("sigint");
  // SIGINT once the run has saved its step-20 checkpoint (polled, so a loaded machine only makes
  // the test slower, never wrong), while it still has thousands of steps to go.
  const std::string script = "\"$@\" & pid=$!; i=0; "
                             "while [ ! -e '" + dir + "/out/checkpoint_step_20' ] && [ $i -lt 1200 ]; do "
                             "sleep 0.05; i=$((i+1)); done; kill -INT $pid; wait $pid";
  std::vector<std::string> args = {"-c", script, "sh", utt_binary()};
  for (const std::string& a : tiny_run(dir + "/out", 100000)) args.push_back(a);
  args.insert(args.end(), {"--epochs", "1000"});
  const RunResult r = run_program("sh", args, dir);
  EXPECT_EQ(r.exit_code, 130) << r.out << r.err;
  EXPECT_NE(r.out.find("Stopped by SIGINT after step "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--resume-from " + dir + "/out/checkpoint_step_"), std::string::npos) << r.out;
  // The checkpoint it names is the one saved at the stop, complete.
  const size_t at = r.out.find("--resume-from ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string named = r.out.substr(at + 14, r.out.find_first_of(" \n", at + 14) - (at + 14));
  EXPECT_TRUE(fs::exists(fs::path(named) / "model.safetensors")) << named;
  EXPECT_TRUE(fs::exists(fs::path(named) / "trainer_state.json")) << named;
}

TEST(Training, ANonFiniteLossStopsTheRunNamingTheStep) {
  const std::string dir = scratch_dir("nan");
  std::vector<std::string> args = tiny_run(dir + "/out", 30);
  args.insert(args.end(), {"--learning-rate", "1e30"});
  const RunResult r = run_utt(args, dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  // Which turns non-finite first, the loss or the gradient norm, depends on the overflow.
  EXPECT_TRUE(r.err.find("the loss became") != std::string::npos ||
              r.err.find("the gradient norm became") != std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower --learning-rate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at step "), std::string::npos) << r.err;
}

TEST(Training, TokenizerIsTrainedThenReusedThenRetrainedOrLoaded) {
  const std::string dir = scratch_dir("tokenizer");
  std::vector<std::string> args = tiny_run(dir + "/out", 6);
  const RunResult first = run_utt(args, dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("Tokenizer: trained on 12 documents"), std::string::npos) << first.out;
  args.push_back("--overwrite-output-dir");
  const RunResult second = run_utt(args, dir);
  EXPECT_NE(second.out.find("Tokenizer: reusing " + dir + "/out/tokenizer.json"), std::string::npos) << second.out;
  args.push_back("--retrain-tokenizer");
  EXPECT_NE(run_utt(args, dir).out.find("Tokenizer: trained on"), std::string::npos);
  std::vector<std::string> loaded = tiny_run(dir + "/other", 6);
  loaded.insert(loaded.end(), {"--tokenizer-path", dir + "/out/tokenizer.json"});
  const RunResult third = run_utt(loaded, dir);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.out.find("Tokenizer: loaded " + dir + "/out/tokenizer.json (600 tokens)"), std::string::npos)
      << third.out;
  // The output directory is the guide's, whichever way the tokenizer came: tokenizer.json is
  // there, and the closing "Outputs:" line lists only what is.
  EXPECT_EQ(read(dir + "/other/tokenizer.json"), read(dir + "/out/tokenizer.json"));
  EXPECT_NE(third.out.find("Outputs: " + dir + "/other/ (tokenizer.json, model_config.json"), std::string::npos)
      << third.out;
}

// A tokenizer of another size never silently wins over an explicit --vocab-size.
TEST(Training, AnExplicitVocabSizeTheTokenizerLacksIsRefused) {
  const std::string dir = scratch_dir("vocab");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 6), dir).exit_code, 0);
  const std::string before = read(dir + "/out/metrics.jsonl");
  std::vector<std::string> reused = tiny_run(dir + "/out", 6);
  reused.insert(reused.end(), {"--vocab-size", "700", "--overwrite-output-dir"});
  RunResult r = run_utt(reused, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--vocab-size 700 was asked, but " + dir + "/out/tokenizer.json has 600 tokens: add "
                       "--retrain-tokenizer"), std::string::npos) << r.err;
  EXPECT_EQ(read(dir + "/out/metrics.jsonl"), before) << "the refused run touched the earlier run";

  std::vector<std::string> loaded = tiny_run(dir + "/loaded", 6);
  loaded.insert(loaded.end(), {"--vocab-size", "700", "--tokenizer-path", dir + "/out/tokenizer.json"});
  r = run_utt(loaded, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has 600 tokens: drop --vocab-size"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/loaded"));

  std::vector<std::string> too_large = tiny_run(dir + "/large", 6);
  too_large.insert(too_large.end(), {"--vocab-size", "60000", "--max-train-examples", "1"});
  r = run_utt(too_large, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("fewer than --vocab-size 60000: lower --vocab-size to at most"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/large"));
}

TEST(Training, AThirdPartyTokenizerFramesDocumentsByItsTemplateOrIsRefusedWithoutSeparators) {
  const std::string dir = scratch_dir("template-tokenizer");
  // A tokenizer of Llama-3's layout: no <|endoftext|>, <|begin_of_text|> and <|end_of_text|>,
  // a post-processor that puts <|begin_of_text|> before every text, and a gap in its ids.
  const RunResult trained = run_utt({"tokenizer", "train", "--input", corpus() + "/validation.jsonl",
                                     "--vocab-size", "600", "--output", dir + "/ours.json"}, dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  nlohmann::json root = nlohmann::json::parse(read(dir + "/ours.json"));
  nlohmann::json& vocab = root["model"]["vocab"];
  vocab.erase("<|endoftext|>");
  vocab.erase("<|pad|>");
  vocab["<|begin_of_text|>"] = 640;
  vocab["<|end_of_text|>"] = 641;
  auto added = [](const std::string& content, int id) {
    return nlohmann::json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                          {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  root["added_tokens"] = {added("<|begin_of_text|>", 640), added("<|end_of_text|>", 641)};
  const nlohmann::json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  root["post_processor"] = {{"type", "TemplateProcessing"},
                            {"single", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                            {"pair", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                            {"special_tokens", {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"},
                                                                       {"ids", {640}}, {"tokens", {"<|begin_of_text|>"}}}}}}};
  std::ofstream(dir + "/llama_style.json") << root.dump();
  // The tokenizer decides the vocabulary: no --vocab-size.
  auto without_vocab_size = [](std::vector<std::string> args) {
    const auto at = std::find(args.begin(), args.end(), "--vocab-size");
    args.erase(at, at + 2);
    return args;
  };
  std::vector<std::string> args = without_vocab_size(tiny_run(dir + "/out", 10));
  args.insert(args.end(), {"--tokenizer-path", dir + "/llama_style.json"});
  RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Document separators: <|begin_of_text|> before each document (the tokenizer's "
                       "post_processor template)"), std::string::npos) << r.out;
  const nlohmann::json config = nlohmann::json::parse(read(dir + "/out/model_config.json"));
  EXPECT_EQ(config["vocab_size"], 642);  // the id space, max id + 1, gap (598..639) included
  r = run_utt({"generate", "--checkpoint", dir + "/out/final_checkpoint", "--prompt", "Fellow citizens",
               "--max-new-tokens", "30", "--seed", "5"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Fellow citizens", 0), 0u) << r.out;
  // The export declares the template's first token as bos, as the tokenizer adds it.
  r = run_utt({"export", "--checkpoint", dir + "/out/final_checkpoint", "--format", "hf", "--output",
               dir + "/hf"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json hf_config = nlohmann::json::parse(read(dir + "/hf/config.json"));
  EXPECT_EQ(hf_config["vocab_size"], 642);
  EXPECT_EQ(hf_config["bos_token_id"], 640);
  EXPECT_EQ(hf_config["eos_token_id"], 641);
  EXPECT_EQ(nlohmann::json::parse(read(dir + "/hf/generation_config.json"))["bos_token_id"], 640);
  EXPECT_EQ(nlohmann::json::parse(read(dir + "/hf/tokenizer_config.json"))["bos_token"], "<|begin_of_text|>");

  // Without the template and without an end-of-text token nothing separates documents.
  root["post_processor"] = nullptr;
  vocab.erase("<|end_of_text|>");
  root["added_tokens"] = {added("<|begin_of_text|>", 640)};
  std::ofstream(dir + "/no_separator.json") << root.dump();
  args = without_vocab_size(tiny_run(dir + "/refused", 10));
  args.insert(args.end(), {"--tokenizer-path", dir + "/no_separator.json"});
  r = run_utt(args, dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("no usable document separator"), std::string::npos) << r.err;
}

TEST(Training, AutoVocabSizeExplainsItsChoice) {
  const std::string dir = scratch_dir("autovocab");
  std::vector<std::string> args = tiny_run(dir + "/out", 6);
  args.insert(args.end(), {"--auto-vocab-size", "--min-vocab-size", "300", "--max-vocab-size", "1200",
                           "--tokenizer-train-examples", "20"});
  const RunResult r = run_utt(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Vocabulary size (--auto-vocab-size, measured on 2 validation documents):"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- chosen"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": the cheapest per byte of text"), std::string::npos) << r.out;
  const nlohmann::json config = nlohmann::json::parse(read(dir + "/out/model_config.json"));
  EXPECT_GE(config["vocab_size"].get<int64_t>(), 300);
  EXPECT_LE(config["vocab_size"].get<int64_t>(), 1200);
}

TEST(Training, GenerateAndEvalUseTheTrainedModel) {
  const std::string dir = scratch_dir("generate");
  ASSERT_EQ(run_utt(tiny_run(dir + "/out", 10), dir).exit_code, 0);
  const std::vector<std::string> generate = {"generate", "--checkpoint", dir + "/out/final_checkpoint",
                                             "--prompt", "Fellow citizens", "--max-new-tokens", "12",
                                             "--seed", "3"};
  const RunResult a = run_utt(generate, dir);
  const RunResult b = run_utt(generate, dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out.rfind("Fellow citizens", 0), 0u) << a.out;
  EXPECT_GT(a.out.size(), std::string("Fellow citizens\n").size());
  EXPECT_EQ(a.out, b.out) << "the same seed must give the same text";

  const RunResult eval = run_utt({"eval", "--checkpoint", dir + "/out/final_checkpoint", "--dataset-id",
                                  corpus(), "--split", "validation", "--batch-size", "4", "--max-batches", "3"},
                                 dir);
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("loss: "), std::string::npos);
  EXPECT_NE(eval.out.find("perplexity: "), std::string::npos);
  EXPECT_NE(eval.out.find("batches: 3\n"), std::string::npos) << eval.out;

  // A file has one split: evaluated whole, without --split.
  const RunResult file = run_utt({"eval", "--checkpoint", dir + "/out/final_checkpoint", "--dataset-id",
                                  corpus() + "/validation.jsonl", "--batch-size", "4", "--max-batches", "2"},
                                 dir);
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_NE(file.out.find("batches: 2\n"), std::string::npos) << file.out;
}

}  // namespace
}  // namespace utt::test
