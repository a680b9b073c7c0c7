// The tensor-core flash attention's kernels: flash_attention_math.h's block programs run by a
// device executor, one CUDA block of kFlashWarps warps per tile, one thread per lane.
//   forward: grid (B*NH, query blocks of 64 rows)
//   dq:      grid (B*NH, query blocks of 64 rows)
//   dk, dv:  grid (B*KVH, key blocks of 64 rows), each summing its group's query heads in order
// None of this has run on a GPU yet (docs/architecture.md, "Flash attention on the GPU").
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/flash_attention.h"
#include "backend/cuda/flash_attention_math.h"
#include "util/error.h"

namespace utt::cuda {
namespace {

using flash::kFlashThreads;
using flash::Problem;
using flash::Tiles;

// The executor of flash_attention_math.h on the GPU: each thread is one lane.
struct DeviceExec {
  static constexpr int kLanes = 1;
  static constexpr int kWarpSlots = 1;
  __device__ static int lane(int) { return static_cast<int>(threadIdx.x % cuda_math::kWarpLanes); }
  template <typename F>
  __device__ static void for_each_thread(F f) {
    f(static_cast<int>(threadIdx.x));
  }
  template <typename F>
  __device__ static void for_each_warp(F f) {
    f(0, static_cast<int>(threadIdx.x / cuda_math::kWarpLanes));
  }
  __device__ static void sync() { __syncthreads(); }
  // D = A B + C, bf16 A (16 x 16) and B (16 x 8), fp32 C and D; sm_80 and later.
  __device__ static void mma(float (&c)[1][4], const uint32_t (&a)[1][4], const uint32_t (&b)[1][2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0][0]), "+f"(c[0][1]), "+f"(c[0][2]), "+f"(c[0][3])
        : "r"(a[0][0]), "r"(a[0][1]), "r"(a[0][2]), "r"(a[0][3]), "r"(b[0][0]), "r"(b[0][1]));
  }
  __device__ static void shuffle_xor(float (&v)[1], int mask) { v[0] = __shfl_xor_sync(0xffffffffu, v[0], mask); }
};

extern __shared__ __align__(16) unsigned char flash_shared[];

template <int D>
__global__ void __launch_bounds__(kFlashThreads) forward_kernel(float* out, float* lse, Problem p) {
  const int64_t bh = blockIdx.x;
  flash::flash_forward_block<DeviceExec, D>(out, lse, p, blockIdx.y, bh / p.L.NH, bh % p.L.NH,
                                            reinterpret_cast<uint16_t*>(flash_shared));
}

template <int D>
__global__ void __launch_bounds__(kFlashThreads)
    dq_kernel(float* dqkv, const float* dout, const float* out, const float* lse, Problem p) {
  const int64_t bh = blockIdx.x;
  flash::flash_dq_block<DeviceExec, D>(dqkv, dout, out, lse, p, blockIdx.y, bh / p.L.NH, bh % p.L.NH,
                                       reinterpret_cast<uint16_t*>(flash_shared));
}

template <int D>
__global__ void __launch_bounds__(kFlashThreads)
    dkv_kernel(float* dqkv, const float* dout, const float* out, const float* lse, Problem p) {
  const int64_t bh = blockIdx.x;
  flash::flash_dkv_block<DeviceExec, D>(dqkv, dout, out, lse, p, blockIdx.y, bh / p.L.KVH, bh % p.L.KVH,
                                        reinterpret_cast<uint16_t*>(flash_shared));
}

// Kernels with more than 48 KiB of dynamic shared memory must say so once.
template <typename Kernel>
void allow_shared(Kernel kernel, int bytes) {
  if (bytes > 48 * 1024) {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  }
}

unsigned blocks(int64_t rows, int64_t tile) { return static_cast<unsigned>((rows + tile - 1) / tile); }

template <int D>
void forward(float* out, float* lse, const Problem& p, int64_t B, cudaStream_t stream) {
  constexpr int bytes = flash::forward_shared_elements<D>() * 2;
  static const bool ready = (allow_shared(forward_kernel<D>, bytes), true);
  (void)ready;
  const dim3 grid(static_cast<unsigned>(B * p.L.NH), blocks(p.L.T, Tiles<D>::kQueryRows));
  forward_kernel<D><<<grid, kFlashThreads, bytes, stream>>>(out, lse, p);
  CUDA_CHECK_LAUNCH();
}

template <int D>
void backward(float* dqkv, const float* dout, const float* out, const float* lse, const Problem& p, int64_t B,
              cudaStream_t stream) {
  constexpr int dq_bytes = flash::dq_shared_bytes<D>(), dkv_bytes = flash::dkv_shared_bytes<D>();
  static const bool ready = (allow_shared(dq_kernel<D>, dq_bytes), allow_shared(dkv_kernel<D>, dkv_bytes), true);
  (void)ready;
  const dim3 dq_grid(static_cast<unsigned>(B * p.L.NH), blocks(p.L.T, Tiles<D>::kQueryRows));
  dq_kernel<D><<<dq_grid, kFlashThreads, dq_bytes, stream>>>(dqkv, dout, out, lse, p);
  CUDA_CHECK_LAUNCH();
  const dim3 dkv_grid(static_cast<unsigned>(B * p.L.KVH), blocks(p.L.T, Tiles<D>::kKeyRows));
  dkv_kernel<D><<<dkv_grid, kFlashThreads, dkv_bytes, stream>>>(dqkv, dout, out, lse, p);
  CUDA_CHECK_LAUNCH();
}

Problem make_problem(const float* qkv, const int32_t* doc_pos, int64_t T, int64_t NH, int64_t KVH, int64_t HS) {
  UTT_CHECK(KVH >= 1 && NH % KVH == 0, "query heads must be a multiple of kv heads");
  UTT_CHECK(flash::head_size_supported(HS),
            "the flash attention kernel takes head sizes 64 and 128, not " + std::to_string(HS));
  return Problem{qkv, doc_pos, cuda_math::QkvLayout{T, NH, KVH, HS}, 1.0f / sqrtf(static_cast<float>(HS))};
}

}  // namespace

bool flash_attention_supports(int64_t HS) { return flash::head_size_supported(HS); }

void flash_attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B,
                             int64_t T, int64_t NH, int64_t KVH, int64_t HS, cudaStream_t stream) {
  const Problem p = make_problem(qkv, doc_pos, T, NH, KVH, HS);
  if (B * T <= 0) return;
  if (HS == 64) {
    forward<64>(out, lse, p, B, stream);
  } else {
    forward<128>(out, lse, p, B, stream);
  }
}

void flash_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                              const float* lse, const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                              int64_t KVH, int64_t HS, cudaStream_t stream) {
  const Problem p = make_problem(qkv, doc_pos, T, NH, KVH, HS);
  if (B * T <= 0) return;
  if (HS == 64) {
    backward<64>(dqkv, dout, out, lse, p, B, stream);
  } else {
    backward<128>(dqkv, dout, out, lse, p, B, stream);
  }
}

}  // namespace utt::cuda
