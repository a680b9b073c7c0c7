// gemm's entry: the empty cases, the split of c between threads, and the plain loops used when the
// AVX-512 kernels are not compiled in.
#include "backend/cpu/gemm/gemm.h"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "backend/bf16.h"
#include "backend/cpu/gemm/gemm_internal.h"

namespace utt::cpu {
namespace {

using gemm_detail::Blocking;
using gemm_detail::Problem;
using gemm_detail::Region;

// Below this many multiply-adds one thread does it all: a parallel region costs microseconds, far
// more when the cores are busy with other work.
constexpr int64_t kMinParallelWork = int64_t{1} << 20;

// Packing one element costs about as much time as this many multiply-adds in the microkernel
// (a load, a shuffle share and a store against 1/32 of a 2-FMA/cycle core): used only to choose
// between thread splits, where the rows' split packs all of b on every thread and the columns'
// split all of a.
constexpr double kPackCostInMultiplyAdds = 16;

int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

// [begin, end) of part t of `parts` for `size` elements cut at multiples of `unit`.
std::pair<int64_t, int64_t> part(int64_t size, int64_t unit, int64_t parts, int64_t t) {
  const int64_t units = ceil_div(size, unit);
  return {std::min(size, units * t / parts * unit), std::min(size, units * (t + 1) / parts * unit)};
}

// Splits c into row_parts x col_parts regions, choosing the factorization of `threads` whose
// slowest thread has the least work: microkernel tiles (padded to full tiles) plus packing.
struct Split {
  int64_t row_parts, col_parts;
};

Split choose_split(const Problem& p, const Blocking& blk, int64_t threads) {
  Split best{threads, 1};
  double best_cost = std::numeric_limits<double>::infinity();
  for (int64_t rows = 1; rows <= threads; ++rows) {
    if (threads % rows != 0) continue;
    const int64_t cols = threads / rows;
    double slowest = 0;
    for (int64_t t = 0; t < threads; ++t) {
      const auto [m0, m1] = part(p.M, blk.mr, rows, t / cols);
      const auto [n0, n1] = part(p.N, blk.nr, cols, t % cols);
      const double tiles = static_cast<double>(ceil_div(m1 - m0, blk.mr) * blk.mr) *
                           static_cast<double>(ceil_div(n1 - n0, blk.nr) * blk.nr);
      const double packed = static_cast<double>(m1 - m0) * static_cast<double>(ceil_div(n1 - n0, blk.nc)) +
                            static_cast<double>(n1 - n0);
      slowest = std::max(slowest, (tiles + kPackCostInMultiplyAdds * packed) * static_cast<double>(p.K));
    }
    if (slowest < best_cost) best = {rows, cols}, best_cost = slowest;
  }
  return best;
}

// c = [c +] op(a) op(b) [+ bias], one dot product per element; bf16 rounds each operand.
void plain_gemm(const Problem& p, bool bf16) {
  auto operand = [bf16](float x) { return bf16 ? round_to_bf16(x) : x; };
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < p.N; ++n) {
      float sum = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const float a = p.transpose_a ? p.a[k * p.M + m] : p.a[m * p.K + k];
        const float b = p.transpose_b ? p.b[n * p.K + k] : p.b[k * p.N + n];
        sum += operand(a) * operand(b);
      }
      float& out = p.c[m * p.N + n];
      out = (p.accumulate ? out + sum : sum) + (p.bias != nullptr ? p.bias[n] : 0.0f);
    }
  }
}

}  // namespace

bool gemm_is_fast(GemmType type) {
  return type == GemmType::kBf16DotProduct ? gemm_detail::kHaveBf16DotKernels : gemm_detail::kHaveFp32Kernels;
}

void gemm(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
          int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate,
          GemmType type) {
  const Problem p{c, a, b, bias, M, N, K, transpose_a == Transpose::kYes,
                  transpose_b == Transpose::kYes, accumulate == Accumulate::kYes};
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || !gemm_is_fast(type)) {  // K = 0: an empty sum, c = [c +] bias
    plain_gemm(p, type != GemmType::kFp32);
    return;
  }
  Blocking blocking{};
  void (*region)(const Problem&, const Region&) = nullptr;
  if constexpr (gemm_detail::kHaveFp32Kernels) {
    blocking = gemm_detail::fp32_blocking();
    region = type == GemmType::kFp32 ? gemm_detail::gemm_fp32_region : gemm_detail::gemm_bf16_region;
  }
  if constexpr (gemm_detail::kHaveBf16DotKernels) {
    if (type == GemmType::kBf16DotProduct) {
      blocking = gemm_detail::bf16_dot_blocking(), region = gemm_detail::gemm_bf16_dot_region;
    }
  }
  const int64_t threads = M * N * K < kMinParallelWork ? 1 : omp_get_max_threads();
  if (threads == 1) {
    region(p, {0, M, 0, N});
    return;
  }
  const Split split = choose_split(p, blocking, threads);
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    // A smaller team than asked for (nested or limited): the regions are cut for the team we got.
    const Split s = team == threads ? split : Split{team, 1};
    const auto [m0, m1] = part(M, blocking.mr, s.row_parts, t / s.col_parts);
    const auto [n0, n1] = part(N, blocking.nr, s.col_parts, t % s.col_parts);
    if (m1 > m0 && n1 > n0) region(p, {m0, m1, n0, n1});
  }
}

}  // namespace utt::cpu
