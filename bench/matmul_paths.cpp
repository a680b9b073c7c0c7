// bench/matmul_paths: the matmul libraries utt can use, on the shapes of a training step, side by
// side: OpenBLAS's sgemm sliced over our threads (the anchor: what PyTorch's fp32 CPU path runs),
// oneDNN's fp32 matmul, our own kernels' fp32 (backend/cpu/gemm), then oneDNN's bf16 matmul (fp32
// accumulation) on operands rounded beforehand (conversion not timed), the same with the rounding
// pass timed (Bf16Matmul's path in builds without AVX-512), and our two bf16 kernels, which round fp32 operands while
// packing (so their time includes the conversion): "ours16" multiplies the rounded operands with
// fp32 FMAs (GemmType::kBf16), "ours16dp" with vdpbf16ps (GemmType::kBf16DotProduct). The choice
// in backend/cpu/matmul.cpp follows from this table.
//
//   build/bench/matmul_paths [--presets "nano tiny small"] [--repeats 10] [--threads 0]
//                            [--style llama|gpt2] [--shape "D_MODEL D_FF VOCAB TOKENS"] [--json]
//
// --style gpt2: a GELU MLP's input projection (d_ff outputs) instead of SwiGLU's (2 d_ff).
// --shape: one custom configuration instead of the presets. --json: also one JSON line per
// configuration with each path's FLOP-weighted GFLOP/s (bench/vs_pytorch reads it as its ceilings).
//
// Per preset and shape: GFLOP/s of each path (best of --repeats after 2 warm-up calls; the paths
// take turns within each repeat, so a burst of load elsewhere hits all of them alike) and the
// ratios of our kernels to oneDNN's; then the FLOP-weighted rate over the step's matmuls.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "backend/bf16.h"
#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/onednn_matmul.h"
#include "backend/cpu/ops.h"

namespace {

using utt::Accumulate;
using utt::Transpose;

struct Preset {
  const char* name;
  int64_t d_model, d_ff, vocab, tokens;  // tokens = batch x seq of the vs_pytorch bench
  int64_t ffn_in_factor = 2;             // SwiGLU's gate and up projections; 1 for a GELU MLP
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
  linear("ffn in", C, p.ffn_in_factor * F);
  linear("ffn out", F, C);
  linear("lm head", C, V);
  return shapes;
}

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best seconds of each path over `repeats` rounds in which every path runs once, in turn.
// A path this CPU cannot run (oneDNN has no bf16 primitive without AVX-512) gets infinity and
// prints as n/a.
std::vector<double> best_seconds(const std::vector<std::function<void()>>& paths, int repeats) {
  std::vector<double> best(paths.size(), 1e30);
  for (size_t p = 0; p < paths.size(); ++p) {
    try {
      paths[p](), paths[p]();
    } catch (const std::exception&) {
      best[p] = std::numeric_limits<double>::infinity();
    }
  }
  for (int r = 0; r < repeats; ++r) {
    for (size_t p = 0; p < paths.size(); ++p) {
      if (std::isinf(best[p])) continue;
      const double t0 = seconds_now();
      paths[p]();
      best[p] = std::min(best[p], seconds_now() - t0);
    }
  }
  return best;
}

// One table cell: GFLOP/s, or n/a for a path this CPU cannot run.
void print_rate(double flops, double seconds, bool last_fp32) {
  if (std::isinf(seconds)) {
    std::printf(" %8s%s", "n/a", last_fp32 ? " |" : "");
  } else {
    std::printf(" %8.0f%s", flops / seconds / 1e9, last_fp32 ? " |" : "");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string presets = "nano tiny small";
  int repeats = 10;
  int threads = 0;
  int64_t ffn_in_factor = 2;
  bool json = false;
  std::vector<Preset> all = {{"nano", 128, 512, 8192, 16 * 256},
                             {"tiny", 256, 1024, 16000, 16 * 256},
                             {"small", 512, 2048, 16000, 8 * 256}};
  for (int i = 1; i < argc; i += 2) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "matmul_paths: %s needs a value\n", argv[i]);
      return 2;
    }
    if (std::strcmp(argv[i], "--style") == 0) {
      if (std::strcmp(argv[i + 1], "gpt2") != 0 && std::strcmp(argv[i + 1], "llama") != 0) {
        std::fprintf(stderr, "matmul_paths: --style is llama or gpt2, not %s\n", argv[i + 1]);
        return 2;
      }
      ffn_in_factor = std::strcmp(argv[i + 1], "gpt2") == 0 ? 1 : 2;
    } else if (std::strcmp(argv[i], "--shape") == 0) {
      Preset custom{"custom", 0, 0, 0, 0};
      std::istringstream fields(argv[i + 1]);
      long d = 0, f = 0, v = 0, t = 0;
      if (!(fields >> d >> f >> v >> t) || d <= 0 || f <= 0 || v <= 0 || t <= 0) {
        std::fprintf(stderr, "matmul_paths: --shape takes \"D_MODEL D_FF VOCAB TOKENS\", got '%s'\n", argv[i + 1]);
        return 2;
      }
      custom.d_model = d, custom.d_ff = f, custom.vocab = v, custom.tokens = t;
      all = {custom};
      presets = "custom";
    } else if (std::strcmp(argv[i], "--presets") == 0) presets = argv[i + 1];
    else if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "matmul_paths: unknown option %s (--presets, --repeats, --threads, --style, --shape, --json)\n",
                   argv[i]);
      return 2;
    }
  }
  utt::cpu::set_thread_count(threads);
  for (Preset& p : all) p.ffn_in_factor = ffn_in_factor;
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
    std::printf("%-8s %6s %6s %6s %2s%2s | %8s %8s %8s | %8s %8s %8s %8s | %7s %7s %7s\n", "weight", "M",
                "N", "K", "At", "Bt", "OpenBLAS", "oneDNN", "ours", "oneDNN16", "+convert", "ours16", "ours16dp",
                "ours/dn", "o16/dn16", "o16/+cv");
    enum { kBlas, kDnnl, kOurs, kDnnl16, kDnnl16Convert, kOurs16, kOurs16Dot, kPaths };
    double flops_total = 0;
    std::vector<double> total(kPaths, 0.0);
    for (const Shape& s : step_shapes(*preset)) {
      // Random operands: rounding and products see realistic bits (constant ones would let any
      // path cheat through identical lanes, and round exactly).
      std::vector<float> a(static_cast<size_t>(s.M * s.K)), b(static_cast<size_t>(s.K * s.N)),
          c(static_cast<size_t>(s.M * s.N));
      uint32_t state = 12345;
      for (auto* v : {&a, &b}) {
        for (float& x : *v) state = state * 1664525u + 1013904223u, x = static_cast<float>(state >> 8) * 0x1p-24f - 0.5f;
      }
      std::vector<uint16_t> a16(a.size()), b16(b.size());
      utt::cpu::convert_to_bf16(a16.data(), a.data(), static_cast<int64_t>(a.size()));
      utt::cpu::convert_to_bf16(b16.data(), b.data(), static_cast<int64_t>(b.size()));
      const double flops = 2.0 * static_cast<double>(s.M) * s.N * s.K;
      std::vector<std::function<void()>> paths(kPaths);
      paths[kBlas] = [&] { utt::cpu::openblas_matmul(c.data(), a.data(), b.data(), s.M, s.N, s.K, s.ta, s.tb, 0.0f); };
      paths[kDnnl] = [&] {
        utt::cpu::onednn_matmul(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb, Accumulate::kNo,
                                utt::cpu::MatmulType::kFp32);
      };
      paths[kOurs] = [&] {
        utt::cpu::gemm(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb, Accumulate::kNo,
                       utt::cpu::GemmType::kFp32);
      };
      paths[kDnnl16] = [&] {
        utt::cpu::onednn_matmul(c.data(), a16.data(), b16.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb,
                                Accumulate::kNo, utt::cpu::MatmulType::kBf16);
      };
      paths[kDnnl16Convert] = [&] {  // Bf16Matmul's fallback path: a rounding pass, then oneDNN
        utt::cpu::convert_to_bf16(a16.data(), a.data(), static_cast<int64_t>(a.size()));
        utt::cpu::convert_to_bf16(b16.data(), b.data(), static_cast<int64_t>(b.size()));
        utt::cpu::onednn_matmul(c.data(), a16.data(), b16.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb,
                                Accumulate::kNo, utt::cpu::MatmulType::kBf16);
      };
      paths[kOurs16] = [&] {
        utt::cpu::gemm(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb, Accumulate::kNo,
                       utt::cpu::GemmType::kBf16);
      };
      paths[kOurs16Dot] = [&] {
        utt::cpu::gemm(c.data(), a.data(), b.data(), nullptr, s.M, s.N, s.K, s.ta, s.tb, Accumulate::kNo,
                       utt::cpu::GemmType::kBf16DotProduct);
      };
      const std::vector<double> t = best_seconds(paths, repeats);
      flops_total += flops;
      for (int p = 0; p < kPaths; ++p) total[p] += t[p];
      std::printf("%-8s %6ld %6ld %6ld %2s%2s |", s.what, static_cast<long>(s.M), static_cast<long>(s.N),
                  static_cast<long>(s.K), s.ta == Transpose::kYes ? "t" : "", s.tb == Transpose::kYes ? "t" : "");
      for (int p = 0; p < kPaths; ++p) print_rate(flops, t[p], p == kOurs);
      std::printf(" | %6.2fx %6.2fx %6.2fx\n", t[kDnnl] / t[kOurs], t[kDnnl16] / t[kOurs16],
                  t[kDnnl16Convert] / t[kOurs16]);
    }
    std::printf("%-34s |", "step total (FLOP-weighted)");
    for (int p = 0; p < kPaths; ++p) print_rate(flops_total, total[p], p == kOurs);
    std::printf(" | %6.2fx %6.2fx %6.2fx\n", total[kDnnl] / total[kOurs], total[kDnnl16] / total[kOurs16],
                total[kDnnl16Convert] / total[kOurs16]);
    if (json) {
      const char* names[kPaths] = {"fp32_openblas", "fp32_onednn", "fp32_utt", "bf16_onednn_preconverted",
                                   "bf16_onednn", "bf16_utt", "bf16_utt_dot_product"};
      std::printf("{\"preset\": \"%s\"", preset->name);
      for (int p = 0; p < kPaths; ++p) std::printf(", \"%s_gflops\": %.1f", names[p], flops_total / total[p] / 1e9);
      std::printf("}\n");
    }
  }
  return 0;
}
