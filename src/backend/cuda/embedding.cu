// Token (and learned position) embeddings. out (N, C) = wte[tokens[n]] + wpe[position(n)], N = B*T,
// position(n) = doc_pos[n] under document masking, else n % T.
// The backward has no float atomics: one thread per column of dwte walks the rows in order
// (repeated tokens add up in the same order every run), one thread per (t, c) of dwpe walks the
// batch in order, or with doc_pos (rows share positions like tokens) one thread per column of
// dwpe walks the rows in order.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace utt::cuda {
namespace {

__global__ void embedding_forward_kernel(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                                         const int32_t* doc_pos, int64_t T, int64_t N, int64_t C) {
  for (int64_t i = global_index(); i < N * C; i += grid_stride()) {
    const int64_t n = i / C, c = i % C;
    const float token_value = wte[static_cast<int64_t>(tokens[n]) * C + c];
    const int64_t position = doc_pos != nullptr ? doc_pos[n] : n % T;
    out[i] = wpe != nullptr ? token_value + wpe[position * C + c] : token_value;
  }
}

__global__ void token_embedding_backward_kernel(float* dwte, const float* dout, const int32_t* tokens, int64_t N,
                                                int64_t C) {
  for (int64_t c = global_index(); c < C; c += grid_stride()) {
    for (int64_t n = 0; n < N; ++n) dwte[static_cast<int64_t>(tokens[n]) * C + c] += dout[n * C + c];
  }
}

__global__ void position_embedding_backward_kernel(float* dwpe, const float* dout, int64_t B, int64_t T,
                                                   int64_t C) {
  for (int64_t i = global_index(); i < T * C; i += grid_stride()) {
    float total = dwpe[i];
    for (int64_t b = 0; b < B; ++b) total += dout[b * T * C + i];
    dwpe[i] = total;
  }
}

__global__ void document_position_backward_kernel(float* dwpe, const float* dout, const int32_t* doc_pos, int64_t N,
                                                  int64_t C) {
  for (int64_t c = global_index(); c < C; c += grid_stride()) {
    for (int64_t n = 0; n < N; ++n) dwpe[static_cast<int64_t>(doc_pos[n]) * C + c] += dout[n * C + c];
  }
}

}  // namespace

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       const int32_t* doc_pos, int64_t B, int64_t T, int64_t C, cudaStream_t stream) {
  const int64_t N = B * T;
  if (N * C <= 0) return;
  embedding_forward_kernel<<<blocks_for(N * C), kThreadsPerBlock, 0, stream>>>(out, tokens, wte, wpe, doc_pos, T,
                                                                                N, C);
  CUDA_CHECK_LAUNCH();
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        const int32_t* doc_pos, int64_t B, int64_t T, int64_t C, cudaStream_t stream) {
  if (B * T * C <= 0) return;
  token_embedding_backward_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(dwte, dout, tokens, B * T, C);
  CUDA_CHECK_LAUNCH();
  if (dwpe != nullptr && doc_pos != nullptr) {
    document_position_backward_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(dwpe, dout, doc_pos, B * T, C);
    CUDA_CHECK_LAUNCH();
  } else if (dwpe != nullptr) {
    position_embedding_backward_kernel<<<blocks_for(T * C), kThreadsPerBlock, 0, stream>>>(dwpe, dout, B, T, C);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace utt::cuda
