// bench/cpu_peak: the arithmetic peak of this CPU's vector units, the ceiling every matmul path is
// measured against: fp32 FMAs (vfmadd231ps) and bf16 dot products (vdpbf16ps, 2 products per fp32
// lane), each on 512-bit registers, 12 independent accumulators per thread, one thread per core.
//
//   build/bench/cpu_peak [--threads 0]
//
// Prints GFLOP/s per thread and in all for both, and their ratio: whether bf16 matmuls can be
// faster than fp32 ones here at all (they can only where vdpbf16ps retires as many per cycle as
// FMAs do, or with AMX tiles, which this bench does not use).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#define UTT_REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__AVX512F__)
// GFLOP/s of `iterations` x 12 fp32 FMAs of 16 lanes (2 flops each).
double fp32_fma_gflops(long iterations) {
#define UTT_DECLARE(i) __m512 acc##i = _mm512_set1_ps(0.0f);
  UTT_REPEAT12(UTT_DECLARE)
  const __m512 a = _mm512_set1_ps(1e-9f), b = _mm512_set1_ps(1.0f);
  const double start = seconds_now();
  for (long n = 0; n < iterations; ++n) {
#define UTT_FMA(i) acc##i = _mm512_fmadd_ps(a, b, acc##i);
    UTT_REPEAT12(UTT_FMA)
    asm volatile("" : "+v"(acc0), "+v"(acc1), "+v"(acc2), "+v"(acc3));
  }
  const double elapsed = seconds_now() - start;
  float sink = 0;
// Stored and summed by hand: GCC 12 warns inside _mm512_reduce_add_ps.
#define UTT_SINK(i)                          \
  {                                          \
    alignas(64) float lanes[16];             \
    _mm512_store_ps(lanes, acc##i);          \
    for (float lane : lanes) sink += lane;   \
  }
  UTT_REPEAT12(UTT_SINK)
  if (sink == 12345.0f) std::puts("");
  return iterations * 12.0 * 32.0 / elapsed / 1e9;
}
#endif

#if defined(__AVX512BF16__)
// GFLOP/s of `iterations` x 12 bf16 dot products: 16 lanes x 2 products x 2 flops each.
double bf16_dot_gflops(long iterations) {
  UTT_REPEAT12(UTT_DECLARE)
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3F80), b = (__m512bh)_mm512_set1_epi16(0x0001);
  const double start = seconds_now();
  for (long n = 0; n < iterations; ++n) {
#define UTT_DOT(i) acc##i = _mm512_dpbf16_ps(acc##i, a, b);
    UTT_REPEAT12(UTT_DOT)
    asm volatile("" : "+v"(acc0), "+v"(acc1), "+v"(acc2), "+v"(acc3));
  }
  const double elapsed = seconds_now() - start;
  float sink = 0;
  UTT_REPEAT12(UTT_SINK)
  if (sink == 12345.0f) std::puts("");
  return iterations * 12.0 * 64.0 / elapsed / 1e9;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
  }
  if (threads > 0) omp_set_num_threads(threads);
#if !defined(__AVX512F__)
  std::puts("cpu_peak: built without AVX-512 (-DUTT_CPU_NATIVE=ON on an AVX-512 machine measures it)");
  return 0;
#else
  constexpr long kIterations = 200'000'000;
  const int count = omp_get_max_threads();
  std::vector<double> fp32(count), bf16(count, 0.0);
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    fp32[t] = fp32_fma_gflops(kIterations);
#if defined(__AVX512BF16__)
    bf16[t] = bf16_dot_gflops(kIterations);
#endif
  }
  double fp32_total = 0, bf16_total = 0;
  for (int t = 0; t < count; ++t) {
    std::printf("thread %d: fp32 FMA %.0f GFLOP/s, bf16 dot %.0f GFLOP/s\n", t, fp32[t], bf16[t]);
    fp32_total += fp32[t];
    bf16_total += bf16[t];
  }
  std::printf("all %d threads: fp32 FMA %.0f GFLOP/s, bf16 dot %.0f GFLOP/s (bf16/fp32 %.2fx)%s\n", count,
              fp32_total, bf16_total, bf16_total / fp32_total,
              bf16_total == 0 ? "; no AVX512-BF16 in this build" : "");
  return 0;
#endif
}
