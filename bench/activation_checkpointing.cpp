// bench/activation_checkpointing: step time and peak memory of a training step with every
// activation kept (the anchor) and with --activation-checkpointing (each block recomputed in the
// backward pass), side by side, in one process on the same backend settings.
//
//   build/bench/activation_checkpointing [--preset small] [--batch 8] [--seq 256] [--vocab 16000]
//                                        [--steps 3] [--threads 0]
//
// Peak memory is the backend's peak_allocated_bytes (weights, gradients, activations and scratch
// buffers of the model; AdamW's moments are not part of this step). Each configuration runs on a
// fresh backend, so the peaks do not mix.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "config/presets.h"
#include "model/transformer.h"

namespace {

struct Measurement {
  double step_seconds = 0;  // forward + backward, the median of `steps`
  int64_t peak_bytes = 0;
};

Measurement measure(const utt::ModelConfig& config, utt::ActivationMemory memory, int64_t batch, int steps,
                    int threads) {
  auto backend = utt::make_cpu_backend({.threads = threads});
  utt::Transformer model(config, *backend, batch, utt::ModelUse::kTraining, memory);
  model.initialize(1);
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(batch * (config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);
  using clock = std::chrono::steady_clock;
  model.forward(tokens.data(), batch, {.training = true});  // warm-up: caches, thread pools, scratch
  model.backward();
  std::vector<double> seconds;
  for (int s = 0; s < steps; ++s) {
    model.zero_gradients();
    const auto start = clock::now();
    model.forward(tokens.data(), batch, {.training = true, .step = s});
    model.backward();
    seconds.push_back(std::chrono::duration<double>(clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds[seconds.size() / 2], backend->peak_allocated_bytes()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "small";
  int64_t batch = 8, seq = 256, vocab = 16000;
  int steps = 3, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--preset") preset = value;
    else if (flag == "--batch") batch = std::atoll(value);
    else if (flag == "--seq") seq = std::atoll(value);
    else if (flag == "--vocab") vocab = std::atoll(value);
    else if (flag == "--steps") steps = std::atoi(value);
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
  config.dropout_rate = 0.1;  // the guide's default: the recomputation replays the masks too
  std::printf("activation_checkpointing: preset %s (d_model %lld, layers %lld), vocab %lld, batch %lld x seq %lld\n",
              preset.c_str(), static_cast<long long>(config.d_model), static_cast<long long>(config.num_layers),
              static_cast<long long>(vocab), static_cast<long long>(batch), static_cast<long long>(seq));
  const Measurement kept = measure(config, utt::ActivationMemory::kKeepAll, batch, steps, threads);
  const Measurement recomputed = measure(config, utt::ActivationMemory::kRecompute, batch, steps, threads);
  const double tokens = static_cast<double>(batch * seq);
  const double mib = 1 << 20;
  std::printf("%-28s %10s %10s %14s\n", "", "step ms", "tokens/s", "peak MiB");
  std::printf("%-28s %10.1f %10.0f %14.1f\n", "keep every activation", 1e3 * kept.step_seconds,
              tokens / kept.step_seconds, static_cast<double>(kept.peak_bytes) / mib);
  std::printf("%-28s %10.1f %10.0f %14.1f\n", "activation checkpointing", 1e3 * recomputed.step_seconds,
              tokens / recomputed.step_seconds, static_cast<double>(recomputed.peak_bytes) / mib);
  std::printf("%-28s %9.2fx %10s %13.2fx\n", "checkpointing / keep", recomputed.step_seconds / kept.step_seconds, "",
              static_cast<double>(recomputed.peak_bytes) / static_cast<double>(kept.peak_bytes));
  return 0;
}
