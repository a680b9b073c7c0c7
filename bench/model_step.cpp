// bench/model_step: forward + backward throughput of the training step on the CPU backend, for a
// preset's shape, optimized kernels against the reference kernels (the anchor), side by side.
//
//   build/bench/model_step [--preset nano] [--batch 16] [--seq 256] [--vocab 16000]
//                          [--steps 5] [--reference-steps 1] [--threads 0]
//
// Prints tokens/s for forward alone and forward+backward, and the optimized/reference ratios.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "config/presets.h"
#include "model/transformer.h"

namespace {

struct Timing {
  double forward_seconds = 0;
  double step_seconds = 0;  // forward + backward
};

Timing measure(utt::Backend& backend, const utt::ModelConfig& config, int64_t batch, int steps) {
  utt::Transformer model(config, backend, batch);
  model.initialize(1);
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(batch * (config.seq_len + 1)));
  for (int32_t& t : tokens) t = token(rng);
  using clock = std::chrono::steady_clock;
  // One untimed step warms caches and thread pools.
  model.forward(tokens.data(), batch, {.training = true});
  model.backward();
  Timing timing;
  for (int s = 0; s < steps; ++s) {
    model.zero_gradients();
    const auto start = clock::now();
    model.forward(tokens.data(), batch, {.training = true, .step = s});
    const auto middle = clock::now();
    model.backward();
    const auto end = clock::now();
    timing.forward_seconds += std::chrono::duration<double>(middle - start).count();
    timing.step_seconds += std::chrono::duration<double>(end - start).count();
  }
  timing.forward_seconds /= steps;
  timing.step_seconds /= steps;
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "nano";
  int64_t batch = 16, seq = 256, vocab = 16000;
  int steps = 5, reference_steps = 1, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--preset") preset = value;
    else if (flag == "--batch") batch = std::atoll(value);
    else if (flag == "--seq") seq = std::atoll(value);
    else if (flag == "--vocab") vocab = std::atoll(value);
    else if (flag == "--steps") steps = std::atoi(value);
    else if (flag == "--reference-steps") reference_steps = std::atoi(value);
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
  const double tokens = static_cast<double>(batch * seq);
  std::printf("model_step: preset %s (d_model %lld, layers %lld, heads %lld, d_ff %lld), vocab %lld, "
              "batch %lld x seq %lld, %s\n",
              preset.c_str(), static_cast<long long>(config.d_model), static_cast<long long>(config.num_layers),
              static_cast<long long>(config.num_heads), static_cast<long long>(config.d_ff),
              static_cast<long long>(vocab), static_cast<long long>(batch), static_cast<long long>(seq),
              utt::describe_architecture(config).c_str());

  auto optimized_backend = utt::make_cpu_backend({.reference_mode = false, .threads = threads});
  const Timing optimized = measure(*optimized_backend, config, batch, steps);
  std::printf("%-22s %12s %14s %12s\n", "", "forward tok/s", "fwd+bwd tok/s", "step ms");
  std::printf("%-22s %12.0f %14.0f %12.1f\n", "optimized", tokens / optimized.forward_seconds,
              tokens / optimized.step_seconds, 1e3 * optimized.step_seconds);
  if (reference_steps > 0) {
    auto reference_backend = utt::make_cpu_backend({.reference_mode = true});
    const Timing reference = measure(*reference_backend, config, batch, reference_steps);
    std::printf("%-22s %12.0f %14.0f %12.1f\n", "reference (anchor)", tokens / reference.forward_seconds,
                tokens / reference.step_seconds, 1e3 * reference.step_seconds);
    std::printf("%-22s %11.1fx %13.1fx\n", "optimized / reference", reference.forward_seconds / optimized.forward_seconds,
                reference.step_seconds / optimized.step_seconds);
  }
  return 0;
}
