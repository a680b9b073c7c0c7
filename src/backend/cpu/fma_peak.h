// One core's peak fp32 multiply-add rate, measured in a register-only loop: the ceiling the CPU's
// MFU is reported against (backend/compute_peak.h). bench/instruction_peaks measures the same
// instruction with longer rounds, beside vdpbf16ps.
#pragma once

namespace utt {

struct FmaPeak {
  const char* name = "";          // "vfmadd231ps zmm" (AVX-512) or "vfmadd231ps ymm" (AVX2 + FMA)
  int flops_per_instruction = 0;  // 32 or 16; 0: neither is available
};

// The widest FMA this CPU runs.
FmaPeak widest_fma();

// Its flops per second on the calling thread: best of a few rounds of a few milliseconds each,
// timed on the thread's CPU clock (another process on the core inflates it less than wall time).
double measure_fma_flops_per_second(const FmaPeak& instruction);

// vdpbf16ps zmm's flops per second on the calling thread (16 lanes x 2 products and sums: 64 per
// instruction), measured the same way; 0 on a CPU without AVX512_BF16.
double measure_dpbf16_flops_per_second();

// The loops behind both, with rounds of about `instructions` instructions (bench/instruction_peaks
// runs longer ones): seconds per instruction, best of 5 rounds; 0 when the CPU lacks it.
double fma_seconds_per_instruction(const FmaPeak& instruction, long instructions);
double dpbf16_seconds_per_instruction(long instructions);

}  // namespace utt
