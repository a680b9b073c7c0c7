// Matmuls: oneDNN for the large ones (see use_onednn), OpenBLAS's sgemm for small ones, and
// OpenBLAS's sgemv for one-row products (decoding).
//
// OpenBLAS threads: one pool only. Debian's default OpenBLAS is the pthread build, with a thread pool of its
// own; letting it run alongside OpenMP's meant idle workers of one pool spinning while the other
// worked. Instead OpenBLAS is set to one thread and each large sgemm is cut into row slices that
// our OpenMP threads compute at once (one single-threaded sgemm call per thread; OpenBLAS allows
// concurrent calls). Measured on the nano preset's training step, four alternating pairs on a
// loaded 2-core machine: 1,150-1,360 tokens/s with OpenBLAS's own threads, 1,340-1,560 with the
// slices (docs/benchmarks.md). Each element of c is computed by one thread in a fixed order, so
// results do not depend on timing.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/onednn_matmul.h"
#include "backend/cpu/ops.h"

// Exported by OpenBLAS builds with DYNAMIC_ARCH (Debian's): the kernel-table selection. Weak, so a
// build without them links and simply keeps its kernels.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace utt::cpu {
namespace {

// Below these sizes one sgemm call on one thread beats slicing (and keeps small models' steps free
// of parallel regions); slices are whole panels of 16 rows.
constexpr int64_t kMinParallelMatmulWork = int64_t{1} << 21;  // multiply-adds
constexpr int64_t kMinParallelMatmulRows = 64;
constexpr int64_t kRowsPerPanel = 16;

// OpenBLAS picks its kernels from the CPU model number; a model newer than the library (Sapphire
// Rapids under Debian 12's 0.3.21, reported as "Core: Prescott") falls back to SSE3 kernels. When
// the CPU has AVX-512 or AVX2+FMA but OpenBLAS chose an older kernel set, select the matching one
// by feature, as OPENBLAS_CORETYPE would (measured on the nano preset's training step: 8.9 s with
// Prescott kernels, 6.8 s with SkylakeX ones, on a loaded 2-core Xeon). A user's own
// OPENBLAS_CORETYPE is left alone.
void select_blas_kernels_by_cpu_features() {
  if (gotoblas_dynamic_init == nullptr || gotoblas_dynamic_quit == nullptr) return;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const char* core = openblas_get_corename();
  const bool generic = core == nullptr || std::strcmp(core, "Prescott") == 0 ||
                       std::strcmp(core, "prescott") == 0 || std::strcmp(core, "Core2") == 0 ||
                       std::strcmp(core, "Nehalem") == 0 || std::strcmp(core, "Sandybridge") == 0;
  if (!generic) return;
  const char* better = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    better = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    better = "Haswell";
  }
  if (better == nullptr) return;
  setenv("OPENBLAS_CORETYPE", better, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

void set_thread_count(int threads) {
  static const bool kernels_selected = [] {
    select_blas_kernels_by_cpu_features();
    return true;
  }();
  (void)kernels_selected;
  // 0: OpenMP's default, which honours OMP_NUM_THREADS and otherwise uses every core.
  if (threads <= 0) threads = omp_get_max_threads();
  omp_set_num_threads(threads);
  openblas_set_num_threads(1);  // see the file comment: our OpenMP threads slice every sgemm
}

namespace {

// One-row products (generation's decoding steps) split by output columns from this many
// multiply-adds, as whole 64-column slices: below it a parallel region costs more than the
// product (each element of c is still computed by one thread, in a fixed order).
constexpr int64_t kMinParallelMatvecWork = int64_t{1} << 20;
constexpr int64_t kColumnsPerSlice = 64;

// c (1, N) = a (1, K) op(b) (+ beta c), b read in place by sgemv. Debian's OpenBLAS (0.3.21)
// sends a one-row sgemm through its packing routines, copying all of b on every call: 70% of a
// nano decoding step went to that copy (perf, 2026-12). Columns [n0, n1) of c per call.
void sgemv_columns(float* c, const float* a, const float* b, int64_t N, int64_t K, int64_t n0,
                   int64_t n1, Transpose transpose_b, float beta) {
  if (transpose_b == Transpose::kYes) {  // b is (N, K): c[n] = b[n, :] . a
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n1 - n0), static_cast<int>(K), 1.0f,
                b + n0 * K, static_cast<int>(K), a, 1, beta, c + n0, 1);
  } else {  // b is (K, N): c[n] = a . b[:, n]
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(K), static_cast<int>(n1 - n0), 1.0f,
                b + n0, static_cast<int>(N), a, 1, beta, c + n0, 1);
  }
}

void matvec(float* c, const float* a, const float* b, int64_t N, int64_t K, Transpose transpose_b,
            float beta) {
  if (N * K >= kMinParallelMatvecWork) {
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t t = omp_get_thread_num();
      const int64_t slices = (N + kColumnsPerSlice - 1) / kColumnsPerSlice;
      const int64_t n0 = std::min(N, slices * t / threads * kColumnsPerSlice);
      const int64_t n1 = std::min(N, slices * (t + 1) / threads * kColumnsPerSlice);
      if (n1 > n0) sgemv_columns(c, a, b, N, K, n0, n1, transpose_b, beta);
    }
  } else {
    sgemv_columns(c, a, b, N, K, 0, N, transpose_b, beta);
  }
}

// C rows [m0, m1) of c = op(a) op(b) (+ beta c).
void sgemm_rows(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K, int64_t m0,
                int64_t m1, Transpose transpose_a, Transpose transpose_b, float beta) {
  const bool ta = transpose_a == Transpose::kYes;
  const float* a_rows = ta ? a + m0 : a + m0 * K;  // a is (K, M) when transposed: columns m0..m1
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              transpose_b == Transpose::kYes ? CblasTrans : CblasNoTrans, static_cast<int>(m1 - m0),
              static_cast<int>(N), static_cast<int>(K), 1.0f, a_rows, static_cast<int>(ta ? M : K), b,
              static_cast<int>(transpose_b == Transpose::kYes ? K : N), beta, c + m0 * N, static_cast<int>(N));
}

}  // namespace

int thread_count() { return omp_get_max_threads(); }

namespace {

// Which kernels run the large fp32 matmuls: oneDNN's. Measured in `utt train` steps (2 threads,
// 2026-11-29, docs/benchmarks.md): d_model 128 (nano's shapes with 8 heads) OpenBLAS 6,916-7,501
// tokens/s, oneDNN 8,040-8,144, our gemm 7,524-8,562; d_model 512 (small) 514, 590 and 551. Our
// kernels tie with oneDNN within noise and OpenBLAS trails both. UTT_MATMUL=onednn|openblas|utt
// overrides the choice, for such comparisons.
enum class LargeMatmulPath { kOneDnn, kOpenBlas, kOwn };

LargeMatmulPath large_matmul_path() {
  static const LargeMatmulPath path = [] {
    const char* choice = std::getenv("UTT_MATMUL");
    if (choice != nullptr && std::strcmp(choice, "openblas") == 0) return LargeMatmulPath::kOpenBlas;
    if (choice != nullptr && std::strcmp(choice, "utt") == 0) return LargeMatmulPath::kOwn;
    return LargeMatmulPath::kOneDnn;
  }();
  return path;
}

}  // namespace

void openblas_matmul(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K,
                     Transpose transpose_a, Transpose transpose_b, float beta) {
  if (M * N * K >= kMinParallelMatmulWork && M >= kMinParallelMatmulRows) {
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t t = omp_get_thread_num();
      const int64_t panels = (M + kRowsPerPanel - 1) / kRowsPerPanel;
      const int64_t m0 = std::min(M, panels * t / threads * kRowsPerPanel);
      const int64_t m1 = std::min(M, panels * (t + 1) / threads * kRowsPerPanel);
      if (m1 > m0) sgemm_rows(c, a, b, M, N, K, m0, m1, transpose_a, transpose_b, beta);
    }
  } else {
    sgemm_rows(c, a, b, M, N, K, 0, M, transpose_a, transpose_b, beta);
  }
}

void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
            int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) {
  if (M == 0 || N == 0) return;
  // Small problems stay on one thread in OpenBLAS: no parallel region, and no oneDNN primitive
  // to create for each new shape (generation's growing prompts, tests' odd sizes). One-row
  // products go to sgemv whatever their size.
  if (K > 0 && M > 1 && M * N * K >= kMinOneDnnMatmulWork) {
    switch (large_matmul_path()) {
      case LargeMatmulPath::kOneDnn:
        return onednn_matmul(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate,
                             MatmulType::kFp32);
      case LargeMatmulPath::kOwn:
        return gemm(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate, GemmType::kFp32);
      case LargeMatmulPath::kOpenBlas:
        break;
    }
  }
  float beta = accumulate == Accumulate::kYes ? 1.0f : 0.0f;
  if (bias != nullptr && accumulate == Accumulate::kNo) {
    // Start every row from the bias and let sgemm add onto it: one pass over c instead of two.
#pragma omp parallel for if ((M * N) >= kMinParallelWork)
    for (int64_t m = 0; m < M; ++m) std::copy(bias, bias + N, c + m * N);
    beta = 1.0f;
  }
  if (K == 0) {
    if (beta == 0.0f) std::fill(c, c + M * N, 0.0f);
  } else if (M == 1) {
    matvec(c, a, b, N, K, transpose_b, beta);  // a (1, K) is the same row, transposed or not
  } else {
    openblas_matmul(c, a, b, M, N, K, transpose_a, transpose_b, beta);
  }
  if (bias != nullptr && accumulate == Accumulate::kYes) {
#pragma omp parallel for if ((M * N) >= kMinParallelWork)
    for (int64_t m = 0; m < M; ++m) {
#pragma omp simd
      for (int64_t n = 0; n < N; ++n) c[m * N + n] += bias[n];
    }
  }
}

// Columns in blocks, rows inside: each thread owns whole columns of dbias.
void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC) {
  constexpr int64_t kBlock = 64;
#pragma omp parallel for if ((N * OC) >= kMinParallelWork)
  for (int64_t block = 0; block < OC; block += kBlock) {
    const int64_t width = std::min(kBlock, OC - block);
    float acc[kBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float* row = dout + n * OC + block;
#pragma omp simd
      for (int64_t o = 0; o < width; ++o) acc[o] += row[o];
    }
    for (int64_t o = 0; o < width; ++o) dbias[block + o] += acc[o];
  }
}

}  // namespace utt::cpu
