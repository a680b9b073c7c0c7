// bench/matmul_paths: the matmul libraries utt can use, on the shapes of a training step, side by
// side: OpenBLAS's sgemm sliced over our threads (the anchor: what PyTorch's fp32 CPU path runs),
// oneDNN's fp32 matmul, and oneDNN's bf16 matmul (fp32 accumulation; operands pre-rounded, so
// conversion is not timed). The choice in backend/cpu/matmul.cpp follows from this table.
//
//   build/bench/matmul_paths [--presets "nano tiny small"] [--repeats 10] [--threads 0]
//
// Per preset and shape: GFLOP/s of each path (best of --repeats after 2 warm-up calls) and the
// oneDNN/OpenBLAS ratios; then the FLOP-weighted rate over the step's matmuls.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "backend/bf16.h"
#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/onednn_matmul.h"
#include "backend/cpu/ops.h"

namespace {

using utt::Accumulate;
using utt::Transpose;

struct Preset {
  const char* name;
  int64_t d_model, d_ff, vocab, tokens;  // tokens = batch x seq of the vs_pytorch bench
};

struct Shape {
  const char* what;
  int64_t M, N, K;
  Transpose ta, tb;
};

// Forward y = x W^T, backward dx = dy W and dW = dy^T x, for every weight of a llama block and
// the LM head.
std::vector<Shape> step_shapes(const Preset& p) {
  const int64_t N = p.tokens, C = p.d_model, F = p.d_ff, V = p.vocab;
  std::vector<Shape> shapes;
  auto linear = [&](const char* what, int64_t in, int64_t out) {
    shapes.push_back({what, N, out, in, Transpose::kNo, Transpose::kYes});
    shapes.push_back({what, N, in, out, Transpose::kNo, Transpose::kNo});
    shapes.push_back({what, out, in, N, Transpose::kYes, Transpose::kNo});
  };
  linear("qkv", C, 3 * C);
  linear("wo", C, C);
  linear("ffn in", C, 2 * F);
  linear("ffn out", F, C);
  linear("lm head", C, V);
  return shapes;
}

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename Run>
double best_seconds(const Run& run, int repeats) {
  run();
  run();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = seconds_now();
    run();
    best = std::min(best, seconds_now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string presets = "nano tiny small";
  int repeats = 10;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--presets") == 0) presets = argv[i + 1];
    else if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "matmul_paths: unknown option %s (--presets, --repeats, --threads)\n", argv[i]);
      return 2;
    }
  }
  utt::cpu::set_thread_count(threads);
  const std::vector<Preset> all = {{"nano", 128, 512, 8192, 16 * 256},
                                   {"tiny", 256, 1024, 16000, 16 * 256},
                                   {"small", 512, 2048, 16000, 8 * 256}};
  std::printf("threads: %d\n", omp_get_max_threads());
  std::istringstream wanted(presets);
  std::string name;
  while (wanted >> name) {
    const Preset* preset = nullptr;
    for (const Preset& p : all) preset = name == p.name ? &p : preset;
    if (preset == nullptr) {
      std::fprintf(stderr, "matmul_paths: unknown preset '%s' (nano, tiny, small)\n", name.c_str());
      return 2;
    }
    std::printf("\n%s (d_model %ld, d_ff %ld, vocab %ld, %ld tokens)\n", preset->name,
                static_cast<long>(preset->d_model), static_cast<long>(preset->d_ff),
                static_cast<long>(preset->vocab), static_cast<long>(preset->tokens));
    std::printf("%-8s %6s %6s %6s %2s%2s | %9s %9s %9s | %8s %8s\n", "weight", "M", "N", "K", "At",
                "Bt", "OpenBLAS", "oneDNN", "oneDNN16", "f32 x", "bf16 x");
    double flops_total = 0, t_blas = 0, t_dnnl = 0, t_bf16 = 0;
    for (const Shape& s : step_shapes(*preset)) {
      std::vector<float> a(static_cast<size_t>(s.M * s.K), 0.01f), b(static_cast<size_t>(s.K * s.N), 0.02f),
          c(static_cast<size_t>(s.M * s.N));
      std::vector<uint16_t> a16(a.size()), b16(b.size());
      utt::cpu::convert_to_bf16(a16.data(), a.data(), static_cast<int64_t>(a.size()));
      utt::cpu::convert_to_bf16(b16.data(), b.data(), static_cast<int64_t>(b.size()));
      const double flops = 2.0 * static_cast<double>(s.M) * s.N * s.K;
      const double blas = best_seconds(
          [&] { utt::cpu::openblas_matmul(c.data(), a.data(), b.data(), s.M, s.N, s.K, s.ta, s.tb, 0.0f); },
          repeats);
      const double dnnl = best_seconds(
          [&] {
            utt::cpu::onednn_matmul(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb,
                                    Accumulate::kNo, utt::cpu::MatmulType::kFp32);
          },
          repeats);
      const double bf16 = best_seconds(
          [&] {
            utt::cpu::onednn_matmul(c.data(), a16.data(), b16.data(), nullptr, s.M, s.N, s.K, s.ta,
                                    s.tb, Accumulate::kNo, utt::cpu::MatmulType::kBf16);
          },
          repeats);
      flops_total += flops;
      t_blas += blas;
      t_dnnl += dnnl;
      t_bf16 += bf16;
      std::printf("%-8s %6ld %6ld %6ld %2s%2s | %9.0f %9.0f %9.0f | %7.2fx %7.2fx\n", s.what,
                  static_cast<long>(s.M), static_cast<long>(s.N), static_cast<long>(s.K),
                  s.ta == Transpose::kYes ? "t" : "", s.tb == Transpose::kYes ? "t" : "", flops / blas / 1e9,
                  flops / dnnl / 1e9, flops / bf16 / 1e9, blas / dnnl, blas / bf16);
    }
    std::printf("%-37s | %9.0f %9.0f %9.0f | %7.2fx %7.2fx   (FLOP-weighted, GFLOP/s)\n", "step total",
                flops_total / t_blas / 1e9, flops_total / t_dnnl / 1e9, flops_total / t_bf16 / 1e9,
                t_blas / t_dnnl, t_blas / t_bf16);
  }
  return 0;
}
