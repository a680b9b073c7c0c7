#include "backend/cpu/fma_peak.h"

#include <immintrin.h>
#include <time.h>

#include <algorithm>

namespace utt {
namespace {

double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Independent accumulators: more than latency x issue width (4 cycles x 2 ports) of any x86 FMA,
// so the loop runs at the issue rate.
constexpr int kChains = 12;
constexpr int kRounds = 5;
// Instructions per round at start-up: ~5 ms at 2 per ns; the best of 5 rounds is within a few
// percent of instruction_peaks' 0.5 s rounds on the machines of docs/benchmarks.md.
constexpr long kStartupInstructions = 10'000'000;

// The two loops differ only in their vector type; each is compiled for its own instruction set.
__attribute__((target("avx512f"))) double zmm_seconds(long iterations) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 x = _mm512_set1_ps(1e-3f);
  double best = 1e30;
  for (int round = 0; round < kRounds; ++round) {
    const double t0 = thread_seconds();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
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

__attribute__((target("avx2,fma"))) double ymm_seconds(long iterations) {
  __m256 acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_ps();
  __m256 x = _mm256_set1_ps(1e-3f);
  double best = 1e30;
  for (int round = 0; round < kRounds; ++round) {
    const double t0 = thread_seconds();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
      for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], x, x);
      asm volatile("" : "+x"(x));
    }
    best = std::min(best, thread_seconds() - t0);
  }
  float lanes[8], sink = 0;
  for (auto& a : acc) _mm256_storeu_ps(lanes, a), sink += lanes[0];
  asm volatile("" : : "x"(sink));
  return best / static_cast<double>(iterations * kChains);
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16_seconds(long iterations) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80);  // bf16 pairs (1, 1)
  double best = 1e30;
  for (int round = 0; round < kRounds; ++round) {
    const double t0 = thread_seconds();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
      for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, x);
      asm volatile("" : "+v"(x));
    }
    best = std::min(best, thread_seconds() - t0);
  }
  float lanes[16], sink = 0;
  for (auto& a : acc) _mm512_storeu_ps(lanes, a), sink += lanes[0];
  asm volatile("" : : "x"(sink));
  return best / static_cast<double>(iterations * kChains);
}

}  // namespace

FmaPeak widest_fma() {
  if (__builtin_cpu_supports("avx512f")) return {"vfmadd231ps zmm", 32};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"vfmadd231ps ymm", 16};
  return {};
}

double fma_seconds_per_instruction(const FmaPeak& instruction, long instructions) {
  const long iterations = std::max(1L, instructions / kChains);
  if (instruction.flops_per_instruction == 32) return zmm_seconds(iterations);
  if (instruction.flops_per_instruction == 16) return ymm_seconds(iterations);
  return 0;
}

double dpbf16_seconds_per_instruction(long instructions) {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bf16")) return 0;
  return dpbf16_seconds(std::max(1L, instructions / kChains));
}

double measure_fma_flops_per_second(const FmaPeak& instruction) {
  const double seconds = fma_seconds_per_instruction(instruction, kStartupInstructions);
  return seconds > 0 ? instruction.flops_per_instruction / seconds : 0;
}

double measure_dpbf16_flops_per_second() {
  const double seconds = dpbf16_seconds_per_instruction(kStartupInstructions);
  return seconds > 0 ? 64 / seconds : 0;
}

}  // namespace utt
