// bench/lora_step: a LoRA fine-tuning step against a full fine-tuning step of the same model
// (the anchor), side by side: step time (forward, backward, AdamW) and memory. Each mode runs in
// a child process of its own, so its peak resident memory (VmHWM) is its own.
//
//   build/bench/lora_step [--preset nano] [--batch 8] [--seq 256] [--vocab 8192] [--steps 5]
//                         [--rank 8] [--targets q,v] [--threads 0]
//
// Model state = fp32 parameters + gradients + two AdamW moments, counted from the buffers.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "config/presets.h"
#include "model/lora_adapters.h"
#include "model/transformer.h"
#include "train/adamw.h"

namespace {

struct Result {
  double step_seconds = 0;
  double state_bytes = 0;    // parameters + gradients + moments
  double peak_rss_bytes = 0;
};

double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) * 1024.0;
  }
  return 0;
}

Result run(const utt::ModelConfig& config, int64_t batch, int steps, bool lora, const utt::LoraSettings& settings,
           int threads) {
  auto backend = utt::make_cpu_backend({.threads = threads});
  utt::Transformer model(config, *backend, batch, lora ? utt::ModelUse::kAdapterTraining : utt::ModelUse::kTraining);
  model.initialize(1);
  std::unique_ptr<utt::LoraAdapters> adapters;
  if (lora) {
    adapters = std::make_unique<utt::LoraAdapters>(config, settings, *backend, batch * config.seq_len);
    adapters->set_parameters(utt::initial_lora_parameters(adapters->layout(), 1));
    model.attach_lora(adapters.get());
  }
  utt::AdamW optimizer(*backend, model.trainable_segments(), model.trainable_count(), {});
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(batch * (config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);
  auto step = [&](int s) {
    model.zero_gradients();
    model.forward(tokens.data(), batch, {.training = true, .step = s});
    model.backward();
    const utt::GradientNorm norm = utt::measure_grad_norm(*backend, model.trainable_gradients(),
                                                          model.trainable_count(), 1.0);
    optimizer.step(model.trainable_parameters(), model.trainable_gradients(), 1e-4, norm.scale);
  };
  step(0);  // warm-up: caches, thread pool, matmul primitives
  const auto start = std::chrono::steady_clock::now();
  for (int s = 1; s <= steps; ++s) step(s);
  Result result;
  result.step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / steps;
  const double base = static_cast<double>(model.parameter_count());
  const double trained = static_cast<double>(model.trainable_count());
  result.state_bytes = 4.0 * (lora ? base + 3.0 * trained : 4.0 * base);
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

// Runs one mode in a child process and reads its Result back through a pipe.
Result in_child(const utt::ModelConfig& config, int64_t batch, int steps, bool lora, const utt::LoraSettings& settings,
                int threads) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const Result r = run(config, batch, steps, lora, settings, threads);
    if (write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  Result r;
  if (read(fds[0], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::exit(1);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "nano", targets = "q,v";
  int64_t batch = 8, seq = 256, vocab = 8192, rank = 8;
  int steps = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--preset") preset = value;
    else if (flag == "--batch") batch = std::atoll(value);
    else if (flag == "--seq") seq = std::atoll(value);
    else if (flag == "--vocab") vocab = std::atoll(value);
    else if (flag == "--steps") steps = std::atoi(value);
    else if (flag == "--rank") rank = std::atoll(value);
    else if (flag == "--targets") targets = value;
    else if (flag == "--threads") threads = std::atoi(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  utt::ModelConfig config;
  const utt::ModelPreset& p = utt::find_preset(preset);
  config.d_model = p.d_model;
  config.num_layers = p.num_layers;
  config.num_heads = p.num_heads;
  config.num_kv_heads = p.num_heads;
  config.d_ff = p.d_ff;
  config.vocab_size = vocab;
  config.seq_len = seq;
  config.dropout_rate = 0;
  utt::LoraSettings settings;
  settings.rank = rank;
  settings.alpha = 2.0 * static_cast<double>(rank);
  settings.targets = utt::parse_lora_targets(targets, config);
  std::printf("lora_step: preset %s (d_model %lld, layers %lld, d_ff %lld), vocab %lld, batch %lld x seq %lld, "
              "LoRA rank %lld on %s\n",
              preset.c_str(), static_cast<long long>(config.d_model), static_cast<long long>(config.num_layers),
              static_cast<long long>(config.d_ff), static_cast<long long>(vocab), static_cast<long long>(batch),
              static_cast<long long>(seq), static_cast<long long>(rank), targets.c_str());
  const Result full = in_child(config, batch, steps, false, settings, threads);
  const Result lora = in_child(config, batch, steps, true, settings, threads);
  std::printf("%-26s %12s %16s %16s\n", "", "step ms", "model state MB", "peak RSS MB");
  std::printf("%-26s %12.1f %16.1f %16.1f\n", "full fine-tuning (anchor)", 1e3 * full.step_seconds,
              full.state_bytes / 1e6, full.peak_rss_bytes / 1e6);
  std::printf("%-26s %12.1f %16.1f %16.1f\n", "LoRA", 1e3 * lora.step_seconds, lora.state_bytes / 1e6,
              lora.peak_rss_bytes / 1e6);
  std::printf("%-26s %11.2fx %15.2fx %15.2fx\n", "LoRA / full", lora.step_seconds / full.step_seconds,
              lora.state_bytes / full.state_bytes, lora.peak_rss_bytes / full.peak_rss_bytes);
  return 0;
}
