// The CUDA backend: device memory, one stream on which every op is queued in call order, and the
// kernels of backend/cuda/*.cu. It follows backend.h's execution contract: uploads go through
// pinned staging memory of its own (the caller's memory is free again when upload returns),
// downloads and reductions synchronize, and no op uses float atomics.
//
// Every op has a kernel (supports() is true for all). None of this code has run on a GPU yet:
// scripts/gpu-check is the command that runs it on one. Device memory goes through DeviceMemory,
// which counts the peak and turns an allocation that does not fit into OutOfDeviceMemory.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/flash_attention.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda_backend.h"
#include "backend/device.h"
#include "util/text.h"

namespace utt {
namespace {

// Pinned staging for uploads: large enough that a batch of token ids goes in one copy, small
// enough to be negligible next to the model.
constexpr int64_t kStagingBytes = int64_t{8} << 20;

int activation_code(Activation act) {
  switch (act) {
    case Activation::kRelu: return cuda_math::kRelu;
    case Activation::kGelu: return cuda_math::kGelu;
    case Activation::kSilu: return cuda_math::kSilu;
  }
  return cuda_math::kSilu;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options)
      : options_(options), device_name_(device_name(options.device)), memory_(device_name_) {
    CUDA_CHECK(cudaSetDevice(options.device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&staging_free_, cudaEventDisableTiming));
    CUDA_CHECK(cudaMallocHost(&staging_, kStagingBytes));
    CUDA_CHECK(cudaMallocHost(&sum_result_host_, sizeof(double)));
    sum_partials_ = static_cast<double*>(
        memory_.allocate((cuda::kReductionBlocks + 1) * static_cast<int64_t>(sizeof(double)), "the sums' partials"));
    const cuda::MatmulPrecision precision = options.bf16_matmuls ? cuda::MatmulPrecision::kBf16
                                            : options.tf32_matmuls ? cuda::MatmulPrecision::kTf32
                                                                   : cuda::MatmulPrecision::kFp32;
    matmul_ = std::make_unique<cuda::CublasMatmul>(stream_, memory_, precision);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  // Destructors do not throw: a failure here is ignored (the process is ending or the device is gone).
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    matmul_.reset();
    cudaFree(sum_partials_);  // not through memory_: nothing may throw here
    cudaFreeHost(sum_result_host_);
    cudaFreeHost(staging_);
    cudaEventDestroy(staging_free_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override {
    return "CUDA (" + device_name_ +
           (options_.bf16_matmuls ? ", bf16 matmuls)" : options_.tf32_matmuls ? ", TF32 matmuls)" : ")");
  }
  bool supports(Op) const override { return true; }
  void synchronize() override { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  // The matmul's bf16 operand scratch (with --use-mixed-precision); cuBLASLt's workspace and the
  // reductions' partials are fixed and allocated at construction.
  void reserve_workspace(const ModelConfig& config, int64_t rows) override {
    matmul_->reserve(cuda::matmul_operand_elements(config, rows));
  }

  // ---- memory ----------------------------------------------------------------------------------
  float* allocate_floats(int64_t count) override {
    return static_cast<float*>(allocate_zeroed(count * 4, "a buffer of " + with_thousands(count) + " floats"));
  }
  int32_t* allocate_ints(int64_t count) override {
    return static_cast<int32_t*>(allocate_zeroed(count * 4, "a buffer of " + with_thousands(count) + " ints"));
  }
  int64_t peak_allocated_bytes() const override { return memory_.peak_bytes(); }
  void release(void* buffer) override { memory_.release(buffer); }
  void upload(float* device, const float* host, int64_t count) override {
    upload_bytes(device, host, count * static_cast<int64_t>(sizeof(float)));
  }
  void upload(int32_t* device, const int32_t* host, int64_t count) override {
    upload_bytes(device, host, count * static_cast<int64_t>(sizeof(int32_t)));
  }
  void download(float* host, const float* device, int64_t count) override {
    if (count <= 0) return;
    CUDA_CHECK(cudaMemcpyAsync(host, device, static_cast<size_t>(count) * sizeof(float), cudaMemcpyDeviceToHost,
                               stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void copy(float* dst, const float* src, int64_t count) override {
    if (count <= 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * sizeof(float), cudaMemcpyDeviceToDevice,
                               stream_));
  }
  void fill(float* x, float value, int64_t count) override { cuda::fill(x, value, count, stream_); }

  // ---- ops with kernels ------------------------------------------------------------------------
  void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
              Transpose transpose_a, Transpose transpose_b, Accumulate accumulate) override {
    matmul_->run(c, a, b, bias, M, N, K, transpose_a, transpose_b, accumulate);
  }
  void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC) override {
    cuda::bias_backward(dbias, dout, N, OC, stream_);
  }
  void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                         const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) override {
    cuda::embedding_forward(out, tokens, wte, wpe, doc_pos, B, T, C, stream_);
  }
  void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                          const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) override {
    cuda::embedding_backward(dwte, dwpe, dout, tokens, doc_pos, B, T, C, stream_);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N, int64_t C,
                       float eps) override {
    cuda::rmsnorm_forward(out, rstd, x, weight, N, C, eps, stream_);
  }
  void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                        const float* rstd, int64_t N, int64_t C) override {
    cuda::rmsnorm_backward(dx, dweight, dout, x, weight, rstd, N, C, stream_);
  }
  void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                         const float* bias, int64_t N, int64_t C, float eps) override {
    cuda::layernorm_forward(out, mean, rstd, x, weight, bias, N, C, eps, stream_);
  }
  void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                          const float* weight, const float* mean, const float* rstd, int64_t N,
                          int64_t C) override {
    cuda::layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C, stream_);
  }
  void rope_table(float* cos, float* sin, int64_t T, int64_t HS, double theta) override {
    cuda::rope_table(cos, sin, T, HS, theta, stream_);
  }
  void rope_forward(float* x, const float* cos, const float* sin, int64_t B, int64_t T, int64_t heads, int64_t HS,
                    int64_t row_stride) override {
    cuda::rope_rotate(x, cos, sin, B, T, heads, HS, row_stride, 1, stream_);
  }
  void rope_backward(float* dx, const float* cos, const float* sin, int64_t B, int64_t T, int64_t heads, int64_t HS,
                     int64_t row_stride) override {
    cuda::rope_rotate(dx, cos, sin, B, T, heads, HS, row_stride, -1, stream_);
  }
  void glu_forward(float* out, const float* h, int64_t N, int64_t F, Activation act) override {
    cuda::glu_forward(out, h, N, F, activation_code(act), stream_);
  }
  void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F, Activation act) override {
    cuda::glu_backward(dh, dout, h, N, F, activation_code(act), stream_);
  }
  void activation_forward(float* out, const float* x, int64_t n, Activation act) override {
    cuda::activation_forward(out, x, n, activation_code(act), stream_);
  }
  void activation_backward(float* dx, const float* dout, const float* x, int64_t n, Activation act) override {
    cuda::activation_backward(dx, dout, x, n, activation_code(act), stream_);
  }
  void dropout(float* x, int64_t n, float rate, uint64_t key) override {
    if (rate <= 0.0f) return;
    cuda::residual_dropout(x, nullptr, x, n, rate, keep_scale(rate), key, stream_);
  }
  void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                        uint64_t key) override {
    cuda::residual_dropout(out, residual, x, n, rate, keep_scale(rate), key, stream_);
  }
  void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets, int64_t N, int64_t V,
                                      float normalizer, LogitGradient logit_gradient) override {
    cuda::cross_entropy_forward_backward(losses, logits, targets, N, V, normalizer,
                                         logit_gradient == LogitGradient::kWrite, stream_);
  }
  void add_inplace(float* y, const float* x, int64_t n) override { cuda::add_inplace(y, x, n, stream_); }
  void scale(float* x, float factor, int64_t n) override { cuda::scale(x, factor, n, stream_); }
  double sum(const float* x, int64_t n) override { return read_sum(x, n, false); }
  double sum_of_squares(const float* x, int64_t n) override { return read_sum(x, n, true); }
  void adamw_step(float* params, const float* grads, float* m, float* v, const ParameterSegment* segments,
                  int64_t segment_count, const AdamWHyper& hyper, float grad_scale) override {
    const cuda_math::AdamWConstants constants{
        static_cast<float>(hyper.learning_rate),
        static_cast<float>(hyper.beta1),
        static_cast<float>(1.0 - hyper.beta1),
        static_cast<float>(hyper.beta2),
        static_cast<float>(1.0 - hyper.beta2),
        static_cast<float>(1.0 / (1.0 - std::pow(hyper.beta1, static_cast<double>(hyper.step)))),
        static_cast<float>(1.0 / (1.0 - std::pow(hyper.beta2, static_cast<double>(hyper.step)))),
        static_cast<float>(hyper.eps),
        grad_scale};
    for (int64_t s = 0; s < segment_count; ++s) {
      const ParameterSegment& segment = segments[s];
      const float decay = segment.decay ? static_cast<float>(1.0 - hyper.learning_rate * hyper.weight_decay) : 1.0f;
      cuda::adamw_segment(params, grads, m, v, segment.begin, segment.end, decay, constants, stream_);
    }
  }

  // The tensor-core kernel (flash_attention.cu) with bf16 operands under --use-mixed-precision
  // and head sizes 64 and 128; otherwise attention.cu's simple fp32 kernels. The naive ops below
  // (--no-flash-attention) always take the simple kernels. Both take the document mask.
  void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B, int64_t T,
                         int64_t NH, int64_t KVH, int64_t HS) override {
    if (use_flash_kernel(HS)) {
      cuda::flash_attention_forward(out, lse, qkv, doc_pos, B, T, NH, KVH, HS, stream_);
    } else {
      cuda::attention_forward(out, lse, nullptr, qkv, doc_pos, B, T, NH, KVH, HS, stream_);
    }
  }
  void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                          const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH,
                          int64_t HS) override {
    if (use_flash_kernel(HS)) {
      cuda::flash_attention_backward(dqkv, dout, qkv, out, lse, doc_pos, B, T, NH, KVH, HS, stream_);
    } else {
      cuda::attention_backward(dqkv, nullptr, dout, qkv, out, lse, nullptr, doc_pos, B, T, NH, KVH, HS, stream_);
    }
  }
  void naive_attention_forward(float* out, float* att, const float* qkv, const int32_t* doc_pos, int64_t B,
                               int64_t T, int64_t NH, int64_t KVH, int64_t HS) override {
    cuda::attention_forward(out, nullptr, att, qkv, doc_pos, B, T, NH, KVH, HS, stream_);
  }
  void naive_attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv, const float* att,
                                const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH, int64_t KVH,
                                int64_t HS) override {
    cuda::attention_backward(dqkv, datt, dout, qkv, nullptr, nullptr, att, doc_pos, B, T, NH, KVH, HS, stream_);
  }
  void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache, const float* v_cache,
                        int64_t B, int64_t length, int64_t capacity, int64_t NH, int64_t KVH, int64_t HS) override {
    cuda::decode_attention(out, q, q_stride, k_cache, v_cache, B, length, capacity, NH, KVH, HS, stream_);
  }

 private:
  // With bf16 operands, the tensor-core kernel when it takes the head size. Otherwise the simple
  // kernel (correct, slower), and the reason is said once on stderr.
  bool use_flash_kernel(int64_t HS) {
    if (options_.bf16_matmuls && cuda::flash_attention_supports(HS)) return true;
    if (!flash_notice_given_) {
      flash_notice_given_ = true;
      if (!options_.bf16_matmuls) {
        std::fprintf(stderr,
                     "utt: note: attention runs on the simple fp32 CUDA kernel; the tensor-core flash attention "
                     "kernel takes bf16 operands, which --use-mixed-precision turns on\n");
      } else {
        std::fprintf(stderr,
                     "utt: note: the tensor-core flash attention kernel takes head sizes 64 and 128; head size %lld "
                     "runs on the simple CUDA attention kernel (same results, slower)\n",
                     static_cast<long long>(HS));
      }
    }
    return false;
  }

  // As the CPU kernels compute it: 1 / (1 - rate) in double, rounded to float once.
  static float keep_scale(float rate) { return static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))); }

  static std::string device_name(int device) {
    cudaDeviceProp properties{};
    CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
    return properties.name;
  }

  void* allocate_zeroed(int64_t bytes, const std::string& what) {
    void* p = memory_.allocate(bytes, what);
    CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(std::max<int64_t>(bytes, 1)), stream_));
    return p;
  }

  // The contract's upload: the host bytes are copied into pinned staging before this returns, then
  // queued to the device from there. Before staging is refilled, the previous copy out of it must
  // have finished (an event wait, not a wait for the whole stream).
  void upload_bytes(void* device, const void* host, int64_t bytes) {
    auto* to = static_cast<char*>(device);
    const auto* from = static_cast<const char*>(host);
    for (int64_t done = 0; done < bytes;) {
      const int64_t chunk = std::min(bytes - done, kStagingBytes);
      CUDA_CHECK(cudaEventSynchronize(staging_free_));
      std::memcpy(staging_, from + done, static_cast<size_t>(chunk));
      CUDA_CHECK(cudaMemcpyAsync(to + done, staging_, static_cast<size_t>(chunk), cudaMemcpyHostToDevice, stream_));
      CUDA_CHECK(cudaEventRecord(staging_free_, stream_));
      done += chunk;
    }
  }

  double read_sum(const float* x, int64_t n, bool squares) {
    double* result = sum_partials_ + cuda::kReductionBlocks;
    cuda::sum(result, sum_partials_, x, n, squares, stream_);
    CUDA_CHECK(cudaMemcpyAsync(sum_result_host_, result, sizeof(double), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return *sum_result_host_;
  }

  CudaBackendOptions options_;
  std::string device_name_;
  cuda::DeviceMemory memory_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t staging_free_ = nullptr;
  void* staging_ = nullptr;
  double* sum_result_host_ = nullptr;
  double* sum_partials_ = nullptr;  // kReductionBlocks partials, then the result
  std::unique_ptr<cuda::CublasMatmul> matmul_;
  bool flash_notice_given_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  const CudaStatus status = query_cuda();
  if (status.gpus.empty()) throw UserError("--device cuda: " + status.problem);
  if (options.device < 0 || options.device >= static_cast<int>(status.gpus.size())) {
    throw UserError("CUDA device " + std::to_string(options.device) + " is not visible (" +
                    std::to_string(status.gpus.size()) + " GPU(s) are): check CUDA_VISIBLE_DEVICES");
  }
  return std::make_unique<CudaBackend>(options);
}

}  // namespace utt
