#include "backend/cuda/matmul.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <string>

#include "backend/cuda/cublas_library.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

// cuBLAS's workspace, set once so its kernels never allocate one during a step (its guide
// recommends 32 MiB on Hopper).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    fail_check(call, file, line, std::string("cuBLAS error: ") + cublas().status_name(status) + ": " +
                                     cublas().status_string(status));
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

}  // namespace

CublasMatmul::CublasMatmul(cudaStream_t stream, bool bf16_operands) : stream_(stream), bf16_(bf16_operands) {
  CUBLAS_CHECK(cublas().create(&handle_));
  CUBLAS_CHECK(cublas().set_stream(handle_, stream_));
  // fp32 stays fp32: no TF32 tensor-core rounding unless asked for (--tf32, not yet a flag).
  CUBLAS_CHECK(cublas().set_math_mode(handle_, CUBLAS_PEDANTIC_MATH));
  CUDA_CHECK(cudaMalloc(&workspace_, kCublasWorkspaceBytes));
  CUBLAS_CHECK(cublas().set_workspace(handle_, workspace_, kCublasWorkspaceBytes));
}

CublasMatmul::~CublasMatmul() {
  cublas().destroy(handle_);
  cudaFree(workspace_);
  cudaFree(a16_);
  cudaFree(b16_);
}

void CublasMatmul::reserve(int64_t elements) {
  if (!bf16_ || elements <= scratch_elements_) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // queued matmuls may still read the old scratch
  CUDA_CHECK(cudaFree(a16_));
  CUDA_CHECK(cudaFree(b16_));
  a16_ = b16_ = nullptr;
  CUDA_CHECK(cudaMalloc(&a16_, static_cast<size_t>(elements) * sizeof(__nv_bfloat16)));
  CUDA_CHECK(cudaMalloc(&b16_, static_cast<size_t>(elements) * sizeof(__nv_bfloat16)));
  scratch_elements_ = elements;
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS multiplies b by a with
// their transposes as stored, m = N, n = M.
void CublasMatmul::run(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
                       Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) {
  if (M <= 0 || N <= 0) return;
  const float alpha = 1.0f;
  const float beta = accumulate == Accumulate::kYes ? 1.0f : 0.0f;
  const cublasOperation_t op_a = transpose_a == Transpose::kYes ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = transpose_b == Transpose::kYes ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto lda = static_cast<int>(transpose_a == Transpose::kYes ? M : K);
  const auto ldb = static_cast<int>(transpose_b == Transpose::kYes ? K : N);
  UTT_CHECK(M < (int64_t{1} << 31) && N < (int64_t{1} << 31) && K < (int64_t{1} << 31),
            "matmul dimensions beyond cuBLAS's 32-bit sizes");
  if (K == 0) {
    if (accumulate == Accumulate::kNo) CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<size_t>(M * N) * 4, stream_));
  } else if (!bf16_) {
    CUBLAS_CHECK(cublas().sgemm(handle_, op_b, op_a, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K),
                               &alpha, b, ldb, a, lda, &beta, c, static_cast<int>(N)));
  } else {
    // Without a reserve (the op tests), the scratch grows here; a model reserves before its first step.
    reserve(std::max(M * K, K * N));
    auto* a16 = static_cast<__nv_bfloat16*>(a16_);
    auto* b16 = static_cast<__nv_bfloat16*>(b16_);
    to_bf16_kernel<<<blocks_for(M * K), kThreadsPerBlock, 0, stream_>>>(a16, a, M * K);
    CUDA_CHECK_LAUNCH();
    to_bf16_kernel<<<blocks_for(K * N), kThreadsPerBlock, 0, stream_>>>(b16, b, K * N);
    CUDA_CHECK_LAUNCH();
    CUBLAS_CHECK(cublas().gemm_ex(handle_, op_b, op_a, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K),
                                 &alpha, b16, CUDA_R_16BF, ldb, a16, CUDA_R_16BF, lda, &beta, c, CUDA_R_32F,
                                 static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  if (bias != nullptr) {
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
