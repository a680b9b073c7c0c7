// Matmuls through OpenBLAS's sgemm.
//
// Threads: Debian's default OpenBLAS is the pthread build, with its own thread pool. We give it the
// same thread count as OpenMP (set_thread_count sets both). BLAS calls are never made from inside
// an OpenMP region, so the two pools take turns rather than oversubscribing the cores.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/ops.h"

// Exported by OpenBLAS builds with DYNAMIC_ARCH (Debian's): the kernel-table selection. Weak, so a
// build without them links and simply keeps its kernels.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace utt::cpu {
namespace {

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
  openblas_set_num_threads(threads);
}

int thread_count() { return omp_get_max_threads(); }

void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
            int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) {
  float beta = accumulate == Accumulate::kYes ? 1.0f : 0.0f;
  if (bias != nullptr && accumulate == Accumulate::kNo) {
    // Start every row from the bias and let sgemm add onto it: one pass over c instead of two.
#pragma omp parallel for if ((M * N) >= kMinParallelWork)
    for (int64_t m = 0; m < M; ++m) std::copy(bias, bias + N, c + m * N);
    beta = 1.0f;
  }
  if (K == 0) {
    if (beta == 0.0f) std::fill(c, c + M * N, 0.0f);
  } else {
    cblas_sgemm(CblasRowMajor, transpose_a == Transpose::kYes ? CblasTrans : CblasNoTrans,
                transpose_b == Transpose::kYes ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), 1.0f, a,
                static_cast<int>(transpose_a == Transpose::kYes ? M : K), b,
                static_cast<int>(transpose_b == Transpose::kYes ? K : N), beta, c, static_cast<int>(N));
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
