// Where heads sit in the qkv rows of causal attention (backend.h: per row the NH query heads, then
// the KVH key heads, then the KVH value heads), and the row helpers the CPU attention kernels
// share: the blocked kernels' naive form and, in bench/attention_bench, the previous kernels.
#pragma once

#include <algorithm>
#include <cstdint>

namespace utt::cpu {

struct QkvLayout {
  int64_t T, NH, KVH, HS;
  int64_t row_stride() const { return (NH + 2 * KVH) * HS; }
  int64_t group() const { return NH / KVH; }
  int64_t q(int64_t b, int64_t t, int64_t h) const { return (b * T + t) * row_stride() + h * HS; }
  int64_t k(int64_t b, int64_t t, int64_t g) const { return (b * T + t) * row_stride() + (NH + g) * HS; }
  int64_t v(int64_t b, int64_t t, int64_t g) const {
    return (b * T + t) * row_stride() + (NH + KVH + g) * HS;
  }
};

inline float dot(const float* a, const float* b, int64_t n) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline void axpy(float* y, float alpha, const float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Zeroes the parts of dqkv that the (b, g) owner writes: its query heads, its k head, its v head.
inline void zero_owned_rows(float* dqkv, const QkvLayout& at, int64_t b, int64_t g) {
  for (int64_t t = 0; t < at.T; ++t) {
    std::fill_n(dqkv + at.q(b, t, g * at.group()), at.group() * at.HS, 0.0f);
    std::fill_n(dqkv + at.k(b, t, g), at.HS, 0.0f);
    std::fill_n(dqkv + at.v(b, t, g), at.HS, 0.0f);
  }
}

}  // namespace utt::cpu
