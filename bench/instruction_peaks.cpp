// bench/instruction_peaks: the per-core ceiling of the two instructions a bf16 matmul could be
// built on, in register-only loops (no memory traffic): vfmadd231ps (16 fp32 multiply-adds,
// 32 flops) and vdpbf16ps (16 lanes x 2 bf16 products added to fp32, 64 flops). Which of them
// does more flops per second decides how backend/cpu/gemm multiplies bf16 operands.
//
//   build/bench/instruction_peaks [--seconds 0.5]
//
// One thread; time is the thread's CPU time (so other processes on the core inflate it less than
// wall time would), best of 5 rounds; 12 independent accumulators, enough to cover either
// instruction's latency. The loops are the ones utt runs at start-up (backend/cpu/fma_peak.h:
// the CPU's MFU peak and the choice of the bf16 matmul kernel), here with longer rounds.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/fma_peak.h"

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
  const long instructions = std::max(1L, static_cast<long>(seconds * 2e9));
  const double fma = utt::fma_seconds_per_instruction(utt::widest_fma(), instructions);
  std::printf("vfmadd231ps zmm: %.3f ns per instruction, %6.1f GFLOP/s per core\n", fma * 1e9, 32 / fma / 1e9);
  if (!__builtin_cpu_supports("avx512bf16")) {
    std::printf("vdpbf16ps: this CPU has no AVX512_BF16\n");
    return 0;
  }
  const double dp = utt::dpbf16_seconds_per_instruction(instructions);
  std::printf("vdpbf16ps   zmm: %.3f ns per instruction, %6.1f GFLOP/s per core\n", dp * 1e9, 64 / dp / 1e9);
  std::printf("vdpbf16ps / vfmadd231ps flop rate: %.2fx\n", (64 / dp) / (32 / fma));
  return 0;
}
