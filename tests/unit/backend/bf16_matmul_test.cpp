// Mixed precision's matmuls: bf16 rounding bit for bit, and the optimized bf16 matmul (oneDNN's
// bf16 kernels, fp32 accumulation) against the reference matmul on the same bf16-rounded operands.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/bf16.h"
#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/gemm/gemm.h"
#include "backend/cpu/onednn_matmul.h"
#include "unit/backend/float_vectors.h"

namespace utt {
namespace {

using test::largest_difference;
using test::largest_magnitude;
using test::random_floats;

uint16_t bf16_of(uint32_t float_bits) { return float_to_bf16(std::bit_cast<float>(float_bits)); }

TEST(Bf16, RoundsToNearestWithTiesToEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(bf16_of(0x3F807FFF), 0x3F80);  // just below half an ulp: down
  EXPECT_EQ(bf16_of(0x3F808001), 0x3F81);  // just above: up
  EXPECT_EQ(bf16_of(0x3F808000), 0x3F80);  // tie, even neighbour below
  EXPECT_EQ(bf16_of(0x3F818000), 0x3F82);  // tie, even neighbour above
  EXPECT_EQ(bf16_of(0x7F7FFFFF), 0x7F80);  // largest float rounds past bf16's largest: infinity
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(bf16_of(0x00000001), 0x0000);  // the smallest subnormal rounds to zero
  // NaNs stay NaN, even those whose payload lives only in the low 16 bits.
  for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u}) {
    EXPECT_TRUE(std::isnan(bf16_to_float(bf16_of(nan)))) << std::hex << nan;
  }
  EXPECT_EQ(round_to_bf16(3.14159265f), 3.140625f);
}

TEST(Bf16Matmul, MatchesTheReferenceOnRoundedOperandsAndDiffersFromFp32) {
  auto bf16 = make_cpu_backend({.threads = 2, .bf16_matmuls = true});
  auto bf16_reference = make_cpu_backend({.reference_mode = true, .bf16_matmuls = true});
  auto fp32 = make_cpu_backend({.threads = 2});
  struct Shape { int64_t M, N, K; };
  // Small shapes, odd ones, and shapes of a real layer (above the size oneDNN's fp32 path takes).
  for (const Shape s : {Shape{1, 1, 1}, Shape{13, 7, 29}, Shape{3, 515, 17}, Shape{5, 3, 1031},
                        Shape{301, 200, 64}, Shape{512, 384, 128}}) {
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        for (Accumulate acc : {Accumulate::kNo, Accumulate::kYes}) {
          for (bool with_bias : {false, true}) {
            const std::string what = std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                                     std::to_string(s.K) + (ta == Transpose::kYes ? " At" : "") +
                                     (tb == Transpose::kYes ? " Bt" : "") +
                                     (acc == Accumulate::kYes ? " +=" : "") + (with_bias ? " bias" : "");
            const auto a = random_floats(s.M * s.K, 1), b = random_floats(s.K * s.N, 2);
            const auto bias = random_floats(s.N, 3), start = random_floats(s.M * s.N, 4);
            auto run = [&](Backend& be) {
              std::vector<float> c = start;
              be.matmul(c.data(), a.data(), b.data(), with_bias ? bias.data() : nullptr, s.M, s.N,
                        s.K, ta, tb, acc);
              return c;
            };
            const auto got = run(*bf16), expected = run(*bf16_reference), full = run(*fp32);
            // Same rounded operands: only fp32 accumulation order separates the two.
            const double scale = std::max(1.0, largest_magnitude(expected));
            EXPECT_LE(largest_difference(got, expected), 2e-5 * std::sqrt(double(s.K)) * scale) << what;
            // And the rounding is real: products of bf16 operands are not fp32 products.
            if (s.K >= 17) {
              EXPECT_GT(largest_difference(got, full), 1e-4 * scale) << what;
              EXPECT_LT(largest_difference(got, full), 0.05 * std::sqrt(double(s.K)) * scale) << what;
            }
          }
        }
      }
    }
  }
}

// Each kernel this machine can run, chosen explicitly (a run takes one per process), against
// the reference on the same rounded operands: the FMAs on rounded operands and vdpbf16ps of
// our gemm, and oneDNN's bf16 matmul (AMX tiles where the CPU has them, its AVX-512 kernels here).
TEST(Bf16Matmul, EveryKernelThisMachineRunsMatchesTheReference) {
  std::vector<std::pair<cpu::Bf16Kernel, std::string>> kernels = {{cpu::Bf16Kernel::kRoundThenFp32, "round, fp32"}};
  if (cpu::gemm_is_fast(cpu::GemmType::kBf16)) kernels.push_back({cpu::Bf16Kernel::kFmaOnRounded, "FMA"});
  if (cpu::gemm_is_fast(cpu::GemmType::kBf16DotProduct) && __builtin_cpu_supports("avx512bf16")) {
    kernels.push_back({cpu::Bf16Kernel::kDotProduct, "vdpbf16ps"});
  }
  if (cpu::onednn_runs_bf16()) kernels.push_back({cpu::Bf16Kernel::kOneDnn, "oneDNN"});
  std::printf("bf16 kernels tested here: %zu (oneDNN on AMX: %s)\n", kernels.size(),
              cpu::onednn_uses_amx() ? "yes" : "no");
  auto reference = make_cpu_backend({.reference_mode = true, .bf16_matmuls = true});
  struct Shape { int64_t M, N, K; };
  // Small (rounded and run in fp32 by the oneDNN kernel) and above oneDNN's threshold.
  for (const Shape s : {Shape{13, 7, 29}, Shape{301, 200, 64}, Shape{512, 384, 128}}) {
    for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        for (Accumulate acc : {Accumulate::kNo, Accumulate::kYes}) {
          const auto a = random_floats(s.M * s.K, 1), b = random_floats(s.K * s.N, 2);
          const auto bias = random_floats(s.N, 3), start = random_floats(s.M * s.N, 4);
          std::vector<float> expected = start;
          reference->matmul(expected.data(), a.data(), b.data(), bias.data(), s.M, s.N, s.K, ta, tb, acc);
          const double scale = std::max(1.0, largest_magnitude(expected));
          for (const auto& [kernel, name] : kernels) {
            cpu::Bf16Matmul matmul(kernel);
            std::vector<float> got = start;
            matmul.run(got.data(), a.data(), b.data(), bias.data(), s.M, s.N, s.K, ta, tb, acc);
            EXPECT_LE(largest_difference(got, expected), 2e-5 * std::sqrt(double(s.K)) * scale)
                << name << " " << s.M << "x" << s.N << "x" << s.K << (ta == Transpose::kYes ? " At" : "")
                << (tb == Transpose::kYes ? " Bt" : "") << (acc == Accumulate::kYes ? " +=" : "");
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace utt
