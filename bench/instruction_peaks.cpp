// bench/instruction_peaks: the per-core ceiling of the two instructions a bf16 matmul could be
// built on, in register-only loops (no memory traffic): vfmadd231ps (16 fp32 multiply-adds,
// 32 flops) and vdpbf16ps (16 lanes x 2 bf16 products added to fp32, 64 flops). Which of them
// does more flops per second decides how backend/cpu/gemm multiplies bf16 operands.
//
//   build/bench/instruction_peaks [--seconds 0.5]
//
// One thread; time is the thread's CPU time (so other processes on the core inflate it less than
// wall time would), best of 5 rounds; 24 independent accumulators, enough to cover either
// instruction's latency.
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

constexpr int kChains = 24;

// Seconds per instruction, best of 5 rounds of `iterations` x kChains instructions.
__attribute__((target("avx512f"))) double fma_seconds(long iterations) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 x = _mm512_set1_ps(1e-3f);
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const double t0 = thread_seconds();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
      for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], x, x);
      asm volatile("" : "+v"(x));  // keeps the loop from being folded away
    }
    best = std::min(best, thread_seconds() - t0);
  }
  float lanes[16], sink = 0;
  for (auto& a : acc) _mm512_storeu_ps(lanes, a), sink += lanes[0];
  asm volatile("" : : "x"(sink));  // the sums are used
  return best / static_cast<double>(iterations * kChains);
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16_seconds(long iterations) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80);  // bf16 pairs (1, 1)
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const double t0 = thread_seconds();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
      for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, x);
      asm volatile("" : "+v"(x));
    }
    best = std::min(best, thread_seconds() - t0);
  }
  float lanes[16], sink = 0;
  for (auto& a : acc) _mm512_storeu_ps(lanes, a), sink += lanes[0];
  asm volatile("" : : "x"(sink));  // the sums are used
  return best / static_cast<double>(iterations * kChains);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else {
      std::fprintf(stderr, "instruction_peaks: unknown option %s (--seconds)\n", argv[i]);
      return 2;
    }
  }
  if (!__builtin_cpu_supports("avx512f")) {
    std::printf("this CPU has no AVX-512: nothing to measure\n");
    return 0;
  }
  // About `seconds` per round at 2 instructions per ns.
  const long iterations = std::max(1L, static_cast<long>(seconds * 2e9 / kChains));
  const double fma = fma_seconds(iterations);
  std::printf("vfmadd231ps zmm: %.3f ns per instruction, %6.1f GFLOP/s per core\n", fma * 1e9, 32 / fma / 1e9);
  if (!__builtin_cpu_supports("avx512bf16")) {
    std::printf("vdpbf16ps: this CPU has no AVX512_BF16\n");
    return 0;
  }
  const double dp = dpbf16_seconds(iterations);
  std::printf("vdpbf16ps   zmm: %.3f ns per instruction, %6.1f GFLOP/s per core\n", dp * 1e9, 64 / dp / 1e9);
  std::printf("vdpbf16ps / vfmadd231ps flop rate: %.2fx\n", (64 / dp) / (32 / fma));
  return 0;
}
