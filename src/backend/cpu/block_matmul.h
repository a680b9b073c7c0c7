// A register-blocked product of small blocks, C (+)= A B, for the attention kernels, whose blocks
// (64 x 64 scores, 64 x head-size rows) are too small for a BLAS call to pay off.
//
// Written with GCC/Clang vector types rather than intrinsics, one vector being one register of
// the widest kind the build targets (16 floats with AVX-512, 8 with AVX, 4 otherwise), so the
// same code is the fast path and the portable path. A tile of 4 rows x up to 4 vectors of C
// stays in registers for the whole K loop: each step loads one row of B, broadcasts 4 values of
// A and does up to 16 fused multiply-adds, so the loop is bound by arithmetic rather than loads.
// Without AVX-512 (16 registers, not 32) tiles are at most 2 vectors wide, so that they still fit.
#pragma once

#include <cstdint>
#include <cstring>

#include "backend/backend.h"

namespace utt::cpu {

#if defined(__AVX512F__)
inline constexpr int64_t kVectorWidth = 16;  // floats per vector; N must be a multiple of it
inline constexpr int kWidestTile = 4;        // vectors per tile row
#elif defined(__AVX__)
inline constexpr int64_t kVectorWidth = 8;
inline constexpr int kWidestTile = 2;
#else
inline constexpr int64_t kVectorWidth = 4;
inline constexpr int kWidestTile = 2;
#endif
inline constexpr int64_t kTileRows = 4;  // rows of C per tile; M must be a multiple of it

using FloatVector = float __attribute__((vector_size(kVectorWidth * sizeof(float))));

inline FloatVector load_vector(const float* p) {
  FloatVector v;
  std::memcpy(&v, p, sizeof v);  // an unaligned load; no aliasing question
  return v;
}

inline void store_vector(float* p, FloatVector v) { std::memcpy(p, &v, sizeof v); }

// One matrix with arbitrary row and column strides (a transposed view is just swapped strides).
struct StridedMatrix {
  const float* data;
  int64_t row_stride, column_stride;
  float operator()(int64_t r, int64_t c) const { return data[r * row_stride + c * column_stride]; }
};

// C[i0 .. i0+4)[n0 .. n0 + V vectors) (+)= A[i0 .. i0+4)[0 .. K) B[0 .. K)[n0 .. n0 + V vectors).
template <int V>
inline void multiply_tile(float* c, int64_t ldc, StridedMatrix a, const float* b, int64_t ldb,
                          int64_t i0, int64_t n0, int64_t K, Accumulate accumulate) {
  FloatVector acc[kTileRows][V];
  for (int r = 0; r < kTileRows; ++r) {
    for (int v = 0; v < V; ++v) {
      const float* from = c + (i0 + r) * ldc + n0 + v * kVectorWidth;
      acc[r][v] = accumulate == Accumulate::kYes ? load_vector(from) : FloatVector{};
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    FloatVector b_row[V];
    for (int v = 0; v < V; ++v) b_row[v] = load_vector(b + k * ldb + n0 + v * kVectorWidth);
    for (int r = 0; r < kTileRows; ++r) {
      const float a_rk = a(i0 + r, k);
      for (int v = 0; v < V; ++v) acc[r][v] += a_rk * b_row[v];
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    for (int v = 0; v < V; ++v) store_vector(c + (i0 + r) * ldc + n0 + v * kVectorWidth, acc[r][v]);
  }
}

// C (M x N, row stride ldc) = or += A (M x K) B (K x N, row stride ldb). M must be a multiple of
// kTileRows and N of kVectorWidth: callers pad their blocks (with zeros) to these sizes.
inline void multiply_blocks(float* c, int64_t ldc, StridedMatrix a, const float* b, int64_t ldb,
                            int64_t M, int64_t N, int64_t K, Accumulate accumulate) {
  for (int64_t i0 = 0; i0 < M; i0 += kTileRows) {
    int64_t n0 = 0;
    for (; n0 + kWidestTile * kVectorWidth <= N; n0 += kWidestTile * kVectorWidth) {
      multiply_tile<kWidestTile>(c, ldc, a, b, ldb, i0, n0, K, accumulate);
    }
    for (; n0 + 2 * kVectorWidth <= N; n0 += 2 * kVectorWidth) {
      multiply_tile<2>(c, ldc, a, b, ldb, i0, n0, K, accumulate);
    }
    for (; n0 < N; n0 += kVectorWidth) multiply_tile<1>(c, ldc, a, b, ldb, i0, n0, K, accumulate);
  }
}

}  // namespace utt::cpu
