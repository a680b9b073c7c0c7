// bench/attention_bench: the CPU flash attention kernels (forward, backward) against the previous
// row-at-a-time implementation (the anchor, kept below), side by side on the presets' shapes.
//
//   OMP_NUM_THREADS=2 build/bench/attention_bench [--threads 2] [--repeats 5] [--long]
//
// Prints ms per call, GFLOP/s and the new/anchor speed-up. FLOPs count the causal half only:
// forward 2 products of 2*B*NH*(T*T/2)*HS each, backward 2.5x forward. --long adds a T = 1024
// shape. The two kernels' outputs are compared too, so a fast wrong kernel does not go unnoticed.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/qkv_rows.h"
#include "backend/cpu/vector_math.h"

namespace anchor {
using utt::cpu::axpy;
using utt::cpu::dot;
using utt::cpu::fast_exp;
using utt::cpu::kMinParallelWork;
using utt::cpu::QkvLayout;
using utt::cpu::zero_owned_rows;

// The previous kernels, unchanged: one query row at a time, one dot product per (query, key).
constexpr int64_t kKeyTile = 64;

void attention_forward(float* out, float* lse, const float* qkv, int64_t B, int64_t T, int64_t NH,
                       int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bh = 0; bh < B * NH; ++bh) {
    for (int64_t i = 0; i < T; ++i) {
      const int64_t b = bh / NH;
      const int64_t h = bh % NH;
      const int64_t g = h / at.group();
      const float* q = qkv + at.q(b, i, h);
      float* o = out + (b * T + i) * NH * HS + h * HS;
      std::fill_n(o, HS, 0.0f);
      float running_max = -std::numeric_limits<float>::infinity();
      float running_sum = 0;
      float scores[kKeyTile];
      for (int64_t tile = 0; tile <= i; tile += kKeyTile) {
        const int64_t count = std::min(kKeyTile, i + 1 - tile);
        float tile_max = running_max;
        for (int64_t j = 0; j < count; ++j) {
          scores[j] = dot(q, qkv + at.k(b, tile + j, g), HS) * scale;
          tile_max = std::max(tile_max, scores[j]);
        }
        const float correction = fast_exp(running_max - tile_max);
        running_sum *= correction;
#pragma omp simd
        for (int64_t d = 0; d < HS; ++d) o[d] *= correction;
        for (int64_t j = 0; j < count; ++j) {
          const float p = fast_exp(scores[j] - tile_max);
          running_sum += p;
          axpy(o, p, qkv + at.v(b, tile + j, g), HS);
        }
        running_max = tile_max;
      }
      const float inverse_sum = 1.0f / running_sum;
#pragma omp simd
      for (int64_t d = 0; d < HS; ++d) o[d] *= inverse_sum;
      lse[(b * NH + h) * T + i] = running_max + std::log(running_sum);
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  const QkvLayout at{T, NH, KVH, HS};
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel for schedule(dynamic, 1) if ((B * NH * T * T * HS) >= kMinParallelWork)
  for (int64_t bg = 0; bg < B * KVH; ++bg) {
    const int64_t b = bg / KVH;
    const int64_t g = bg % KVH;
    zero_owned_rows(dqkv, at, b, g);
    for (int64_t h = g * at.group(); h < (g + 1) * at.group(); ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const float* q = qkv + at.q(b, i, h);
        const float* d_o = dout + (b * T + i) * NH * HS + h * HS;
        const float D = dot(d_o, out + (b * T + i) * NH * HS + h * HS, HS);
        const float log_sum_exp = lse[(b * NH + h) * T + i];
        float* dq = dqkv + at.q(b, i, h);
        for (int64_t j = 0; j <= i; ++j) {
          const float* k = qkv + at.k(b, j, g);
          const float* v = qkv + at.v(b, j, g);
          const float p = fast_exp(dot(q, k, HS) * scale - log_sum_exp);
          const float ds = p * (dot(d_o, v, HS) - D) * scale;
          axpy(dqkv + at.v(b, j, g), p, d_o, HS);
          axpy(dq, ds, k, HS);
          axpy(dqkv + at.k(b, j, g), ds, q, HS);
        }
      }
    }
  }
}

}  // namespace anchor

namespace {

struct Shape {
  const char* name;
  int64_t B, T, NH, KVH, HS;
};

struct Buffers {
  std::vector<float> qkv, dout, out, lse, dqkv;
  explicit Buffers(const Shape& s)
      : qkv(random_floats(s.B * s.T * (s.NH + 2 * s.KVH) * s.HS, 1)),
        dout(random_floats(s.B * s.T * s.NH * s.HS, 2)),
        out(static_cast<size_t>(s.B * s.T * s.NH * s.HS)),
        lse(static_cast<size_t>(s.B * s.NH * s.T)),
        dqkv(qkv.size()) {}
  static std::vector<float> random_floats(int64_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(static_cast<size_t>(n));
    for (float& v : values) v = normal(rng);
    return values;
  }
};

// Best of `repeats` timed calls after one untimed warm-up, in milliseconds: the minimum is the
// least disturbed by other work on a shared machine.
double best_ms(int repeats, const std::function<void()>& call) {
  call();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    call();
    const auto end = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(end - start).count());
  }
  return best;
}

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference = std::max(difference, std::abs(double(a[i]) - b[i]));
  return difference;
}

void run(const Shape& s, int repeats) {
  Buffers mine(s), theirs(s);
  const double forward_flop = 2.0 * 2.0 * s.B * s.NH * (s.T * s.T / 2.0) * s.HS;
  const double backward_flop = 2.5 * forward_flop;
  auto forward = [&](Buffers& x, auto kernel) {
    kernel(x.out.data(), x.lse.data(), x.qkv.data(), s.B, s.T, s.NH, s.KVH, s.HS);
  };
  auto backward = [&](Buffers& x, auto kernel) {
    kernel(x.dqkv.data(), x.dout.data(), x.qkv.data(), x.out.data(), x.lse.data(), s.B, s.T, s.NH,
           s.KVH, s.HS);
  };
  // The kernels of src/ without document masking (doc_pos null), as the anchor computes.
  const auto new_forward_kernel = [](float* out, float* lse, const float* qkv, int64_t B, int64_t T, int64_t NH,
                                     int64_t KVH, int64_t HS) {
    utt::cpu::attention_forward(out, lse, qkv, nullptr, B, T, NH, KVH, HS);
  };
  const auto new_backward_kernel = [](float* dqkv, const float* dout, const float* qkv, const float* out,
                                      const float* lse, int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
    utt::cpu::attention_backward(dqkv, dout, qkv, out, lse, nullptr, B, T, NH, KVH, HS);
  };
  const double new_forward = best_ms(repeats, [&] { forward(mine, new_forward_kernel); });
  const double old_forward = best_ms(repeats, [&] { forward(theirs, anchor::attention_forward); });
  const double new_backward = best_ms(repeats, [&] { backward(mine, new_backward_kernel); });
  const double old_backward = best_ms(repeats, [&] { backward(theirs, anchor::attention_backward); });
  std::printf("%-6s B %2lld T %4lld NH %2lld KVH %2lld HS %3lld  max |out diff| %.1e  |dqkv diff| %.1e\n", s.name,
              static_cast<long long>(s.B), static_cast<long long>(s.T), static_cast<long long>(s.NH),
              static_cast<long long>(s.KVH), static_cast<long long>(s.HS), largest_difference(mine.out, theirs.out),
              largest_difference(mine.dqkv, theirs.dqkv));
  auto row = [&](const char* what, double flop, double new_ms, double old_ms) {
    std::printf("  %-18s %9.2f ms %7.1f GFLOP/s | anchor %9.2f ms %7.1f GFLOP/s | %5.1fx\n", what, new_ms,
                flop / new_ms * 1e-6, old_ms, flop / old_ms * 1e-6, old_ms / new_ms);
  };
  row("forward", forward_flop, new_forward, old_forward);
  row("backward", backward_flop, new_backward, old_backward);
  row("forward+backward", forward_flop + backward_flop, new_forward + new_backward, old_forward + old_backward);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repeats = 5;
  bool long_shapes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (flag == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (flag == "--long") long_shapes = true;
    else {
      std::fprintf(stderr, "usage: attention_bench [--threads N] [--repeats N] [--long]\n");
      return 2;
    }
  }
  omp_set_num_threads(threads);
  std::printf("attention_bench: %d threads, best of %d calls; new kernels vs anchor (row at a time)\n", threads,
              repeats);
  std::vector<Shape> shapes = {{"nano", 16, 256, 4, 4, 32}, {"tiny", 16, 256, 8, 8, 32}, {"small", 8, 256, 8, 8, 64}};
  if (long_shapes) {
    shapes.push_back({"long", 2, 1024, 8, 8, 64});
    shapes.push_back({"gqa", 1, 2048, 8, 2, 128});
  }
  for (const Shape& s : shapes) run(s, repeats);
  return 0;
}
