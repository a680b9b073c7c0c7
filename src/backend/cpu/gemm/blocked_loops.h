// The GotoBLAS loop nest shared by the fp32 and bf16 kernels, over one thread's region of c:
//
//   for each nc-wide block of b's columns:
//     for each kc-deep slice of k:       pack b's kc x nc block into nr-wide panels (L3 / L2)
//       for each mc-tall block of rows:  pack a's mc x kc block into mr-tall panels (L2)
//         for each nr panel of b:        (stays in L1 while ...)
//           for each mr panel of a:      microkernel: mr x nr tile of c over kc
//
// Kernel supplies the element type of the panels (Unit: one k-group of one row or column), the
// blocking, pack<width>() and microkernel(). Every element of c is summed over k in the same
// order (slice by slice, each slice in k order) whatever the region, so the thread split never
// changes a result.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "backend/cpu/gemm/gemm_internal.h"

namespace utt::cpu::gemm_detail {

// Per-thread packing scratch: grown to the largest panel seen, then reused (no allocation per
// call once a run's shapes have all been seen). 64-byte aligned, with a vector's slack at the end
// for the packing stores that run past a panel's last element.
template <typename T>
class Scratch {
 public:
  T* get(int64_t count) {
    if (count > capacity_) {
      const auto bytes = static_cast<size_t>((count * static_cast<int64_t>(sizeof(T)) + 64 + 63) / 64 * 64);
      data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  int64_t capacity_ = 0;
};

inline int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// Where element (lane, k) of a packed panel comes from. A panel's lanes are rows of op(a) or
// columns of op(b); its source is "k-contiguous" when consecutive k are adjacent in memory (a
// untransposed, b transposed) and "lane-contiguous" otherwise.
struct PanelSource {
  const float* base;  // element (lane 0, k 0)
  int64_t stride;     // between consecutive lanes (k-contiguous) or consecutive k (lane-contiguous)
  bool k_contiguous;
};

inline PanelSource a_source(const Problem& p, int64_t row, int64_t k) {
  if (p.transpose_a) return {p.a + k * p.M + row, p.M, false};
  return {p.a + row * p.K + k, p.K, true};
}

inline PanelSource b_source(const Problem& p, int64_t col, int64_t k) {
  if (p.transpose_b) return {p.b + col * p.K + k, p.K, true};
  return {p.b + k * p.N + col, p.N, false};
}

template <class Kernel>
void blocked_loops(const Problem& p, const Region& r) {
  using Unit = typename Kernel::Unit;
  constexpr int64_t MR = Kernel::kMR, NR = Kernel::kNR, KG = Kernel::kKGroup;
  constexpr int64_t KC = Kernel::kKC, MC = Kernel::kMC, NC = Kernel::kNC;
  static_assert(KC % KG == 0 && MC % MR == 0 && NC % NR == 0);
  static thread_local Scratch<Unit> a_scratch, b_scratch;
  const int64_t max_groups = (std::min(KC, p.K) + KG - 1) / KG;
  Unit* a_pack = a_scratch.get(max_groups * std::min(MC, round_up(r.m1 - r.m0, MR)));
  Unit* b_pack = b_scratch.get(max_groups * std::min(NC, round_up(r.n1 - r.n0, NR)));

  for (int64_t jc = r.n0; jc < r.n1; jc += NC) {
    const int64_t nc = std::min(NC, r.n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const int64_t groups = (kc + KG - 1) / KG;
      const bool add_c = pc > 0 || p.accumulate;
      const bool last_slice = pc + kc == p.K;
      for (int64_t j = 0; j < nc; j += NR) {
        Kernel::template pack<NR>(b_pack + j * groups, b_source(p, jc + j, pc), std::min(NR, nc - j), kc);
      }
      for (int64_t ic = r.m0; ic < r.m1; ic += MC) {
        const int64_t mc = std::min(MC, r.m1 - ic);
        for (int64_t i = 0; i < mc; i += MR) {
          Kernel::template pack<MR>(a_pack + i * groups, a_source(p, ic + i, pc), std::min(MR, mc - i), kc);
        }
        for (int64_t j = 0; j < nc; j += NR) {
          const float* bias = last_slice && p.bias != nullptr ? p.bias + jc + j : nullptr;
          for (int64_t i = 0; i < mc; i += MR) {
            Kernel::microkernel(groups, a_pack + i * groups, b_pack + j * groups,
                                p.c + (ic + i) * p.N + jc + j, p.N, static_cast<int>(std::min(MR, mc - i)),
                                static_cast<int>(std::min(NR, nc - j)), add_c, bias);
          }
        }
      }
    }
  }
}

}  // namespace utt::cpu::gemm_detail
