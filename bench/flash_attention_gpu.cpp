// bench/flash_attention_gpu: the CUDA backend's tensor-core flash attention (selected under
// --use-mixed-precision) against its simple fp32 attention kernels (the anchor: one warp per
// query row), forward and backward, side by side on GPT-2-small- and Llama-like shapes.
//
//   build/bench/flash_attention_gpu [--repeats 5]
//
// Prints ms per call, TFLOP/s and the simple/flash speed-up, and the largest difference between
// the two outputs relative to the largest magnitude (bf16 against fp32, so around 1e-2 is
// expected; far more means a wrong kernel). FLOPs count the causal half only: forward 2 products
// of 2*B*NH*(T*T/2)*HS each, backward 2.5x forward. Without a visible GPU it says so and exits 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda_backend.h"
#include "backend/device.h"

namespace {

struct Shape {
  const char* name;
  int64_t B, T, NH, KVH, HS;
};
constexpr Shape kShapes[] = {{"d768 12 heads (HS 64)", 8, 1024, 12, 12, 64},
                             {"d2048 16 heads, 4 kv (HS 128)", 4, 1024, 16, 4, 128},
                             {"d768, T=2048 (HS 64)", 2, 2048, 12, 12, 64}};

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = normal(rng);
  return values;
}

struct Timing {
  double forward_ms = 0, backward_ms = 0;
  std::vector<float> out, dqkv;
};

// Best of `repeats` calls (after one warm-up call) of the forward and of the backward.
Timing time_attention(utt::Backend& backend, const Shape& s, const std::vector<float>& qkv,
                      const std::vector<float>& dout, int repeats) {
  using clock = std::chrono::steady_clock;
  const int64_t width = (s.NH + 2 * s.KVH) * s.HS, N = s.B * s.T;
  utt::BackendBuffer<float> qkv_d(backend, N * width), dqkv_d(backend, N * width), out_d(backend, N * s.NH * s.HS),
      dout_d(backend, N * s.NH * s.HS), lse_d(backend, s.B * s.NH * s.T);
  backend.upload(qkv_d.get(), qkv.data(), N * width);
  backend.upload(dout_d.get(), dout.data(), N * s.NH * s.HS);
  Timing timing{1e30, 1e30, {}, {}};
  for (int r = 0; r <= repeats; ++r) {
    backend.synchronize();
    const auto t0 = clock::now();
    backend.attention_forward(out_d.get(), lse_d.get(), qkv_d.get(), nullptr, s.B, s.T, s.NH, s.KVH, s.HS);
    backend.synchronize();
    const auto t1 = clock::now();
    backend.attention_backward(dqkv_d.get(), dout_d.get(), qkv_d.get(), out_d.get(), lse_d.get(), nullptr, s.B, s.T, s.NH,
                               s.KVH, s.HS);
    backend.synchronize();
    const auto t2 = clock::now();
    if (r == 0) continue;  // warm-up
    timing.forward_ms = std::min(timing.forward_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
    timing.backward_ms = std::min(timing.backward_ms, std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  timing.out.resize(static_cast<size_t>(N * s.NH * s.HS));
  timing.dqkv.resize(static_cast<size_t>(N * width));
  backend.download(timing.out.data(), out_d.get(), N * s.NH * s.HS);
  backend.download(timing.dqkv.data(), dqkv_d.get(), N * width);
  return timing;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double difference = 0, largest = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    difference = std::isnan(d) ? INFINITY : std::max(difference, d);
    largest = std::max(largest, std::abs(static_cast<double>(b[i])));
  }
  return difference / largest;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: flash_attention_gpu [--repeats N]\n");
      return 2;
    }
  }
  const utt::CudaStatus cuda = utt::query_cuda();
  if (cuda.gpus.empty()) {
    std::printf("flash_attention_gpu: skipped, no GPU is visible (%s)\n",
                cuda.built ? cuda.problem.c_str() : "this build has no CUDA backend");
    return 0;
  }
  std::printf("GPU: %s; best of %d calls; simple = fp32 warp-per-row kernels, flash = tensor-core bf16\n",
              cuda.gpus[0].name.c_str(), repeats);
  const std::unique_ptr<utt::Backend> flash = utt::make_cuda_backend({.device = 0, .bf16_matmuls = true});
  const std::unique_ptr<utt::Backend> simple = utt::make_cuda_backend({.device = 0, .bf16_matmuls = false});
  std::printf("%-32s %-9s %12s %12s %10s %10s %9s %10s\n", "shape", "pass", "simple ms", "flash ms", "simple TF/s",
              "flash TF/s", "speed-up", "rel. diff");
  for (const Shape& s : kShapes) {
    const std::vector<float> qkv = random_floats(s.B * s.T * (s.NH + 2 * s.KVH) * s.HS, 1);
    const std::vector<float> dout = random_floats(s.B * s.T * s.NH * s.HS, 2);
    const Timing a = time_attention(*simple, s, qkv, dout, repeats);
    const Timing b = time_attention(*flash, s, qkv, dout, repeats);
    const double forward_flop = 2.0 * 2.0 * static_cast<double>(s.B * s.NH) * (s.T * s.T / 2.0) * s.HS;
    const double backward_flop = 2.5 * forward_flop;
    std::printf("%-32s %-9s %12.3f %12.3f %10.1f %10.1f %8.2fx %10.2e\n", s.name, "forward", a.forward_ms,
                b.forward_ms, forward_flop / a.forward_ms * 1e-9, forward_flop / b.forward_ms * 1e-9,
                a.forward_ms / b.forward_ms, relative_difference(b.out, a.out));
    std::printf("%-32s %-9s %12.3f %12.3f %10.1f %10.1f %8.2fx %10.2e\n", s.name, "backward", a.backward_ms,
                b.backward_ms, backward_flop / a.backward_ms * 1e-9, backward_flop / b.backward_ms * 1e-9,
                a.backward_ms / b.backward_ms, relative_difference(b.dqkv, a.dqkv));
  }
  return 0;
}
