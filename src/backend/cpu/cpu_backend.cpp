#include "backend/cpu/cpu_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/bf16.h"
#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/reference/ops.h"
#include "backend/out_of_memory.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

// Cache-line alignment: rows start where vector loads want them.
constexpr size_t kAlignmentBytes = 64;

void* allocate_zeroed(size_t bytes) {
  const size_t rounded = (bytes + kAlignmentBytes - 1) / kAlignmentBytes * kAlignmentBytes;
  void* p = std::aligned_alloc(kAlignmentBytes, rounded == 0 ? kAlignmentBytes : rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

class CpuBackend final : public Backend {
 public:
  // The reference kernels are single-threaded: a reference backend leaves the thread settings alone.
  explicit CpuBackend(const CpuBackendOptions& options)
      : reference_(options.reference_mode), bf16_(options.bf16_matmuls) {
    if (!reference_) cpu::set_thread_count(options.threads);
  }

  std::string name() const override {
    std::string name = reference_ ? "CPU (reference kernels)" : "CPU";
    if (bf16_) name += ", bf16 matmuls";
    return name;
  }

  bool supports(Op) const override { return true; }
  // Every op has run when it returns: nothing is queued.
  void synchronize() override {}
  // The CPU kernels' scratch (matmul packing, bf16 operands) is grown on the first step and
  // reused after; tests/unit/model/step_allocation_test.cpp counts that no later step allocates.
  void reserve_workspace(const ModelConfig&, int64_t) override {}

  float* allocate_floats(int64_t count) override {
    return static_cast<float*>(allocate_counted(static_cast<size_t>(count) * sizeof(float)));
  }
  int32_t* allocate_ints(int64_t count) override {
    return static_cast<int32_t*>(allocate_counted(static_cast<size_t>(count) * sizeof(int32_t)));
  }
  // The buffers allocate_* made; the kernels' own scratch (matmul packing, bf16 operand copies,
  // attention tiles) is a few MiB per thread and not counted.
  int64_t peak_allocated_bytes() const override { return peak_bytes_; }
  void release(void* buffer) override {
    if (buffer == nullptr) return;
    const auto found = buffer_bytes_.find(buffer);
    UTT_CHECK(found != buffer_bytes_.end(), "release of a buffer this backend did not allocate");
    held_bytes_ -= found->second;
    buffer_bytes_.erase(found);
    std::free(buffer);
  }
  void upload(float* device, const float* host, int64_t count) override {
    std::memcpy(device, host, static_cast<size_t>(count) * sizeof(float));
  }
  void upload(int32_t* device, const int32_t* host, int64_t count) override {
    std::memcpy(device, host, static_cast<size_t>(count) * sizeof(int32_t));
  }
  void download(float* host, const float* device, int64_t count) override {
    std::memcpy(host, device, static_cast<size_t>(count) * sizeof(float));
  }
  void copy(float* dst, const float* src, int64_t count) override {
    std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
  }
  void fill(float* x, float value, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) x[i] = value;
  }

  void matmul(float* c, const float* a, const float* b, const float* bias, int64_t M, int64_t N,
              int64_t K, Transpose ta, Transpose tb, Accumulate accumulate) override {
    if (reference_ && bf16_) return reference_bf16_matmul(c, a, b, bias, M, N, K, ta, tb, accumulate);
    if (reference_) return reference::matmul(c, a, b, bias, M, N, K, ta, tb, accumulate);
    if (bf16_) return bf16_matmul_.run(c, a, b, bias, M, N, K, ta, tb, accumulate);
    cpu::matmul(c, a, b, bias, M, N, K, ta, tb, accumulate);
  }
  void bias_backward(float* dbias, const float* dout, int64_t N, int64_t OC) override {
    if (reference_) return reference::bias_backward(dbias, dout, N, OC);
    cpu::bias_backward(dbias, dout, N, OC);
  }

  void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                         const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) override {
    if (reference_) return reference::embedding_forward(out, tokens, wte, wpe, doc_pos, B, T, C);
    cpu::embedding_forward(out, tokens, wte, wpe, doc_pos, B, T, C);
  }
  void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                          const int32_t* doc_pos, int64_t B, int64_t T, int64_t C) override {
    if (reference_) return reference::embedding_backward(dwte, dwpe, dout, tokens, doc_pos, B, T, C);
    cpu::embedding_backward(dwte, dwpe, dout, tokens, doc_pos, B, T, C);
  }

  void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int64_t N,
                       int64_t C, float eps) override {
    if (reference_) return reference::rmsnorm_forward(out, rstd, x, weight, N, C, eps);
    cpu::rmsnorm_forward(out, rstd, x, weight, N, C, eps);
  }
  void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x,
                        const float* weight, const float* rstd, int64_t N, int64_t C) override {
    if (reference_) return reference::rmsnorm_backward(dx, dweight, dout, x, weight, rstd, N, C);
    cpu::rmsnorm_backward(dx, dweight, dout, x, weight, rstd, N, C);
  }
  void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* weight,
                         const float* bias, int64_t N, int64_t C, float eps) override {
    if (reference_) return reference::layernorm_forward(out, mean, rstd, x, weight, bias, N, C, eps);
    cpu::layernorm_forward(out, mean, rstd, x, weight, bias, N, C, eps);
  }
  void layernorm_backward(float* dx, float* dweight, float* dbias, const float* dout,
                          const float* x, const float* weight, const float* mean,
                          const float* rstd, int64_t N, int64_t C) override {
    if (reference_) {
      return reference::layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C);
    }
    cpu::layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C);
  }

  // The table is computed once per model, in double, in both modes.
  void rope_table(float* cos, float* sin, int64_t T, int64_t HS, double theta) override {
    reference::rope_table(cos, sin, T, HS, theta);
  }
  void rope_forward(float* x, const float* cos, const float* sin, int64_t B, int64_t T,
                    int64_t heads, int64_t HS, int64_t row_stride) override {
    if (reference_) return reference::rope_rotate(x, cos, sin, B, T, heads, HS, row_stride, +1);
    cpu::rope_rotate(x, cos, sin, B, T, heads, HS, row_stride, +1);
  }
  void rope_backward(float* dx, const float* cos, const float* sin, int64_t B, int64_t T,
                     int64_t heads, int64_t HS, int64_t row_stride) override {
    if (reference_) return reference::rope_rotate(dx, cos, sin, B, T, heads, HS, row_stride, -1);
    cpu::rope_rotate(dx, cos, sin, B, T, heads, HS, row_stride, -1);
  }

  void attention_forward(float* out, float* lse, const float* qkv, const int32_t* doc_pos, int64_t B,
                         int64_t T, int64_t NH, int64_t KVH, int64_t HS) override {
    if (reference_) return reference::attention_forward(out, lse, qkv, doc_pos, B, T, NH, KVH, HS);
    cpu::attention_forward(out, lse, qkv, doc_pos, B, T, NH, KVH, HS);
  }
  void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                          const float* lse, const int32_t* doc_pos, int64_t B, int64_t T, int64_t NH,
                          int64_t KVH, int64_t HS) override {
    if (reference_) {
      return reference::attention_backward(dqkv, dout, qkv, out, lse, doc_pos, B, T, NH, KVH, HS);
    }
    cpu::attention_backward(dqkv, dout, qkv, out, lse, doc_pos, B, T, NH, KVH, HS);
  }
  void naive_attention_forward(float* out, float* att, const float* qkv, const int32_t* doc_pos,
                               int64_t B, int64_t T, int64_t NH, int64_t KVH, int64_t HS) override {
    if (reference_) return reference::naive_attention_forward(out, att, qkv, doc_pos, B, T, NH, KVH, HS);
    cpu::naive_attention_forward(out, att, qkv, doc_pos, B, T, NH, KVH, HS);
  }
  void naive_attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv,
                                const float* att, const int32_t* doc_pos, int64_t B, int64_t T,
                                int64_t NH, int64_t KVH, int64_t HS) override {
    if (reference_) {
      return reference::naive_attention_backward(dqkv, datt, dout, qkv, att, doc_pos, B, T, NH, KVH, HS);
    }
    cpu::naive_attention_backward(dqkv, datt, dout, qkv, att, doc_pos, B, T, NH, KVH, HS);
  }
  void decode_attention(float* out, const float* q, int64_t q_stride, const float* k_cache,
                        const float* v_cache, int64_t B, int64_t length, int64_t capacity,
                        int64_t NH, int64_t KVH, int64_t HS) override {
    if (reference_) {
      return reference::decode_attention(out, q, q_stride, k_cache, v_cache, B, length, capacity,
                                         NH, KVH, HS);
    }
    cpu::decode_attention(out, q, q_stride, k_cache, v_cache, B, length, capacity, NH, KVH, HS);
  }

  void glu_forward(float* out, const float* h, int64_t N, int64_t F, Activation act) override {
    if (reference_) return reference::glu_forward(out, h, N, F, act);
    cpu::glu_forward(out, h, N, F, act);
  }
  void glu_backward(float* dh, const float* dout, const float* h, int64_t N, int64_t F,
                    Activation act) override {
    if (reference_) return reference::glu_backward(dh, dout, h, N, F, act);
    cpu::glu_backward(dh, dout, h, N, F, act);
  }
  void activation_forward(float* out, const float* x, int64_t n, Activation act) override {
    if (reference_) return reference::activation_forward(out, x, n, act);
    cpu::activation_forward(out, x, n, act);
  }
  void activation_backward(float* dx, const float* dout, const float* x, int64_t n,
                           Activation act) override {
    if (reference_) return reference::activation_backward(dx, dout, x, n, act);
    cpu::activation_backward(dx, dout, x, n, act);
  }
  void dropout(float* x, int64_t n, float rate, uint64_t key) override {
    if (reference_) return reference::dropout(x, n, rate, key);
    cpu::dropout(x, n, rate, key);
  }
  void residual_dropout(float* out, const float* residual, const float* x, int64_t n, float rate,
                        uint64_t key) override {
    if (reference_) return reference::residual_dropout(out, residual, x, n, rate, key);
    cpu::residual_dropout(out, residual, x, n, rate, key);
  }

  void cross_entropy_forward_backward(float* losses, float* logits, const int32_t* targets,
                                      int64_t N, int64_t V, float normalizer,
                                      LogitGradient logit_gradient) override {
    if (reference_) {
      return reference::cross_entropy_forward_backward(losses, logits, targets, N, V, normalizer,
                                                       logit_gradient);
    }
    cpu::cross_entropy_forward_backward(losses, logits, targets, N, V, normalizer, logit_gradient);
  }

  void add_inplace(float* y, const float* x, int64_t n) override {
    if (reference_) {
      for (int64_t i = 0; i < n; ++i) y[i] += x[i];
      return;
    }
    cpu::add_inplace(y, x, n);
  }
  void scale(float* x, float factor, int64_t n) override {
    if (reference_) {
      for (int64_t i = 0; i < n; ++i) x[i] *= factor;
      return;
    }
    cpu::scale(x, factor, n);
  }
  double sum(const float* x, int64_t n) override {
    if (reference_) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i) total += x[i];
      return total;
    }
    return cpu::sum(x, n);
  }
  double sum_of_squares(const float* x, int64_t n) override {
    if (reference_) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
      return total;
    }
    return cpu::sum_of_squares(x, n);
  }

  void adamw_step(float* params, const float* grads, float* m, float* v,
                  const ParameterSegment* segments, int64_t segment_count, const AdamWHyper& hyper,
                  float grad_scale) override {
    if (reference_) {
      return reference::adamw_step(params, grads, m, v, segments, segment_count, hyper, grad_scale);
    }
    cpu::adamw_step(params, grads, m, v, segments, segment_count, hyper, grad_scale);
  }

 private:

  // The reference kernel on operands rounded to bf16: what a bf16 matmul with exact accumulation
  // gives. Reference mode is for tests, so the copies are allowed to allocate.
  static void reference_bf16_matmul(float* c, const float* a, const float* b, const float* bias,
                                    int64_t M, int64_t N, int64_t K, Transpose ta, Transpose tb,
                                    Accumulate accumulate) {
    std::vector<float> a16(a, a + M * K), b16(b, b + K * N);
    for (float& x : a16) x = round_to_bf16(x);
    for (float& x : b16) x = round_to_bf16(x);
    reference::matmul(c, a16.data(), b16.data(), bias, M, N, K, ta, tb, accumulate);
  }

  void* allocate_counted(size_t bytes) {
    void* buffer = nullptr;
    try {
      buffer = allocate_zeroed(bytes);
    } catch (const std::bad_alloc&) {
      throw OutOfDeviceMemory(fmt::format("the host is out of memory: a buffer of {} could not be allocated (utt's "
                                          "buffers hold {}; the machine's free memory, a cgroup memory limit or an "
                                          "address-space limit such as ulimit -v is reached)",
                                          human_bytes(static_cast<double>(bytes)),
                                          human_bytes(static_cast<double>(held_bytes_))),
                              static_cast<int64_t>(bytes), -1);
    }
    buffer_bytes_[buffer] = static_cast<int64_t>(bytes);
    held_bytes_ += static_cast<int64_t>(bytes);
    peak_bytes_ = std::max(peak_bytes_, held_bytes_);
    return buffer;
  }

  bool reference_;
  bool bf16_;
  cpu::Bf16Matmul bf16_matmul_;
  // Sizes of the live buffers (allocation and release happen outside the steps: backend.h).
  std::unordered_map<void*, int64_t> buffer_bytes_;
  int64_t held_bytes_ = 0;
  int64_t peak_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace utt
