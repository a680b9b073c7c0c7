#include "backend/cuda/matmul.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/cuda/cublas_library.h"
#include "backend/out_of_memory.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

// cuBLASLt's workspace, set once so its kernels never allocate one during a step (its guide
// recommends 32 MiB on Hopper).
constexpr size_t kWorkspaceBytes = size_t{32} << 20;
// The bias epilogue reads its vector with vector loads; a bias elsewhere is added by a kernel.
constexpr int kBiasEpilogueAlignment = 16;

void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    throw OutOfDeviceMemory(std::string("the GPU is out of memory: cuBLASLt could not allocate in ") + call + " (" +
                                file + ":" + std::to_string(line) + ")",
                            0, -1);
  }
  if (status != CUBLAS_STATUS_SUCCESS) {
    fail_check(call, file, line, std::string("cuBLASLt error: ") + cublas_status_name(status));
  }
}
#define CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)

// Round to nearest even, as backend/bf16.h rounds on the CPU.
__global__ void to_bf16_kernel(__nv_bfloat16* out, const float* x, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) out[i] = __float2bfloat16_rn(x[i]);
}

__global__ void add_bias_kernel(float* c, const float* bias, int64_t M, int64_t N) {
  for (int64_t i = global_index(); i < M * N; i += grid_stride()) c[i] += bias[i % N];
}

template <typename Value>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const Value& value) {
  CUBLAS_CHECK(cublas_lt().desc_set(desc, attribute, &value, sizeof(value)));
}
template <typename Value>
void set_preference(cublasLtMatmulPreference_t preference, cublasLtMatmulPreferenceAttributes_t attribute,
                    const Value& value) {
  CUBLAS_CHECK(cublas_lt().preference_set(preference, attribute, &value, sizeof(value)));
}

}  // namespace

int alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  int alignment = 1;
  while (alignment < 256 && address % (2 * static_cast<uintptr_t>(alignment)) == 0) alignment *= 2;
  return alignment;
}

CublasMatmul::CublasMatmul(cudaStream_t stream, DeviceMemory& memory, MatmulPrecision precision)
    : stream_(stream), memory_(memory), precision_(precision) {
  CUBLAS_CHECK(cublas_lt().create(&handle_));
  workspace_ = memory_.allocate(kWorkspaceBytes, "the matmul workspace");
}

CublasMatmul::~CublasMatmul() {
  for (auto& [key, plan] : plans_) {
    cublas_lt().layout_destroy(plan.a);
    cublas_lt().layout_destroy(plan.b);
    cublas_lt().layout_destroy(plan.c);
    cublas_lt().desc_destroy(plan.desc);
  }
  cublas_lt().destroy(handle_);
  // The memory outlives this object (the backend's); a failure while freeing is ignored.
  try {
    memory_.release(workspace_);
    memory_.release(a16_);
    memory_.release(b16_);
  } catch (...) {
  }
}

void CublasMatmul::reserve(int64_t elements) {
  if (precision_ != MatmulPrecision::kBf16 || elements <= scratch_elements_) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // queued matmuls may still read the old scratch
  memory_.release(a16_);
  memory_.release(b16_);
  a16_ = b16_ = nullptr;
  const int64_t bytes = elements * static_cast<int64_t>(sizeof(__nv_bfloat16));
  a16_ = memory_.allocate(bytes, "the bf16 matmul operand scratch");
  b16_ = memory_.allocate(bytes, "the bf16 matmul operand scratch");
  scratch_elements_ = elements;
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLASLt's first operand is b,
// its second a, with their transposes as stored, m = N, n = M. A row-major (r, c) matrix is a
// column-major (c, r) one with leading dimension c. The bias epilogue adds a vector over m = N,
// broadcast over n: row-major c[i][j] += bias[j], backend.h's bias.
const CublasMatmul::Plan& CublasMatmul::plan_for(const PlanKey& key) {
  if (const auto found = plans_.find(key); found != plans_.end()) return found->second;
  const auto [M, N, K, transpose_a, transpose_b, bias_epilogue, align_a, align_b, align_c] = key;
  const cudaDataType operand_type = precision_ == MatmulPrecision::kBf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute =
      precision_ == MatmulPrecision::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  Plan plan;
  CUBLAS_CHECK(cublas_lt().desc_create(&plan.desc, compute, CUDA_R_32F));
  set_desc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N);
  set_desc(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N);
  if (bias_epilogue) {
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUDA_R_32F);
  }
  // b as stored: (K, N) row-major is column-major (N, K); transposed, (N, K) is (K, N).
  const uint64_t b_rows = transpose_b ? K : N, b_cols = transpose_b ? N : K;
  const uint64_t a_rows = transpose_a ? M : K, a_cols = transpose_a ? K : M;
  CUBLAS_CHECK(cublas_lt().layout_create(&plan.a, operand_type, b_rows, b_cols, static_cast<int64_t>(b_rows)));
  CUBLAS_CHECK(cublas_lt().layout_create(&plan.b, operand_type, a_rows, a_cols, static_cast<int64_t>(a_rows)));
  CUBLAS_CHECK(cublas_lt().layout_create(&plan.c, CUDA_R_32F, N, M, N));

  cublasLtMatmulPreference_t preference = nullptr;
  CUBLAS_CHECK(cublas_lt().preference_create(&preference));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, static_cast<uint64_t>(kWorkspaceBytes));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(align_b));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(align_a));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(align_c));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(align_c));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublas_lt().heuristic(handle_, plan.desc, plan.a, plan.b, plan.c, plan.c,
                                                      preference, 1, &result, &found);
  cublas_lt().preference_destroy(preference);
  // Without the bias epilogue every shape has an algorithm; with it, none is a plan that is not
  // usable (the caller then adds the bias with its own kernel), kept so the heuristic is asked once.
  UTT_CHECK(bias_epilogue || (status == CUBLAS_STATUS_SUCCESS && found > 0),
            "cuBLASLt has an algorithm for every matmul shape (" + std::to_string(M) + "x" + std::to_string(N) +
                "x" + std::to_string(K) + ": " + cublas_status_name(status) + ")");
  plan.usable = status == CUBLAS_STATUS_SUCCESS && found > 0;
  // The first heuristic answer, fixed for the life of the backend: the same algorithm, so the
  // same summation order, on every call (backend.h: determinism).
  plan.algo = result.algo;
  return plans_.emplace(key, plan).first->second;
}

void CublasMatmul::run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
                       Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) {
  if (M <= 0 || N <= 0) return;
  UTT_CHECK(M < (int64_t{1} << 31) && N < (int64_t{1} << 31) && K < (int64_t{1} << 31),
            "matmul dimensions within cuBLASLt's 32-bit sizes");
  const float alpha = 1.0f;
  const float beta = accumulate == Accumulate::kYes ? 1.0f : 0.0f;
  if (K == 0) {
    if (accumulate == Accumulate::kNo) CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<size_t>(M * N) * 4, stream_));
    if (bias != nullptr) {
      add_bias_kernel<<<blocks_for(M * N), kThreadsPerBlock, 0, stream_>>>(c, bias, M, N);
      CUDA_CHECK_LAUNCH();
    }
    return;
  }
  const void* a_operand = a;
  const void* b_operand = b;
  if (precision_ == MatmulPrecision::kBf16) {
    // Without a reserve (the op tests), the scratch grows here; a model reserves before its first step.
    reserve(std::max(M * K, K * N));
    auto* a16 = static_cast<__nv_bfloat16*>(a16_);
    auto* b16 = static_cast<__nv_bfloat16*>(b16_);
    to_bf16_kernel<<<blocks_for(M * K), kThreadsPerBlock, 0, stream_>>>(a16, a, M * K);
    CUDA_CHECK_LAUNCH();
    to_bf16_kernel<<<blocks_for(K * N), kThreadsPerBlock, 0, stream_>>>(b16, b, K * N);
    CUDA_CHECK_LAUNCH();
    a_operand = a16;
    b_operand = b16;
  }
  PlanKey key{M, N, K, transpose_a == Transpose::kYes, transpose_b == Transpose::kYes,
              bias != nullptr && alignment_of(bias) >= kBiasEpilogueAlignment, alignment_of(a_operand),
              alignment_of(b_operand), alignment_of(c)};
  const Plan* plan = &plan_for(key);
  if (!plan->usable) {  // no epilogue algorithm for this shape: the product alone, then the kernel
    std::get<5>(key) = false;
    plan = &plan_for(key);
  }
  const bool bias_epilogue = std::get<5>(key);
  if (bias_epilogue) {
    // The pointer is per call (the shape's plan is shared by every layer's bias).
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  }
  CUBLAS_CHECK(cublas_lt().matmul(handle_, plan->desc, &alpha, b_operand, plan->a, a_operand, plan->b, &beta, c,
                                  plan->c, c, plan->c, &plan->algo, workspace_, kWorkspaceBytes, stream_));
  if (bias != nullptr && !bias_epilogue) {
    add_bias_kernel<<<blocks_for(M * N), kThreadsPerBlock, 0, stream_>>>(c, bias, M, N);
    CUDA_CHECK_LAUNCH();
  }
}

int64_t matmul_operand_elements(const ModelConfig& config, int64_t rows) {
  // Every operand is an activation or gradient (rows x width) or a weight (width x d_model).
  const int64_t widest = std::max({config.d_model, config.d_model + 2 * config.kv_dim(), 2 * config.d_ff,
                                   config.vocab_size});
  return std::max(rows, config.d_model) * widest;
}

}  // namespace utt::cuda
