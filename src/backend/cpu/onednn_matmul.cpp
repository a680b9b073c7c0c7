// oneDNN matmul primitives, one per distinct problem, cached.
//
// Transposes are strides, not copies: an operand stored transposed is described to oneDNN as the
// same dims with swapped strides. "c +=" is oneDNN's sum post-op; the bias is the primitive's own
// bias argument, added before the sum. oneDNN runs on the OpenMP runtime utt itself uses, so its
// threads are our threads (omp_set_num_threads in set_thread_count), never a second pool.
#include "backend/cpu/onednn_matmul.h"

#include <omp.h>

#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>

namespace utt::cpu {
namespace {

struct Problem {
  int64_t M, N, K;
  bool transpose_a, transpose_b, accumulate, bias;
  MatmulType type;
  int threads;  // oneDNN sizes its partition to the thread count at creation
  auto tie() const {
    return std::tie(M, N, K, transpose_a, transpose_b, accumulate, bias, type, threads);
  }
  bool operator<(const Problem& other) const { return tie() < other.tie(); }
};

// A created primitive with memory objects whose data handles are swapped in per call.
struct Prepared {
  dnnl::matmul primitive;
  dnnl::memory a, b, c, bias;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::unique_ptr<Prepared> prepare(const Problem& p) {
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  const dt element = p.type == MatmulType::kBf16 ? dt::bf16 : dt::f32;
  // a: (M, K), stored (M, K) or, transposed, (K, M). b: (K, N), stored (K, N) or (N, K).
  const dnnl::memory::desc a_md(dims{p.M, p.K}, element,
                                p.transpose_a ? dims{1, p.M} : dims{p.K, 1});
  const dnnl::memory::desc b_md(dims{p.K, p.N}, element,
                                p.transpose_b ? dims{1, p.K} : dims{p.N, 1});
  const dnnl::memory::desc c_md(dims{p.M, p.N}, dt::f32, dims{p.N, 1});
  const dnnl::memory::desc bias_md(dims{1, p.N}, dt::f32, dims{p.N, 1});
  dnnl::primitive_attr attr;
  if (p.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  auto& engine = cpu_engine();
  const auto desc = p.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                           : dnnl::matmul::desc(a_md, b_md, c_md);
  const dnnl::matmul::primitive_desc pd(desc, attr, engine);
  auto prepared = std::make_unique<Prepared>();
  prepared->primitive = dnnl::matmul(pd);
  prepared->a = dnnl::memory(a_md, engine, nullptr);
  prepared->b = dnnl::memory(b_md, engine, nullptr);
  prepared->c = dnnl::memory(c_md, engine, nullptr);
  if (p.bias) prepared->bias = dnnl::memory(bias_md, engine, nullptr);
  return prepared;
}

Prepared& prepared_for(const Problem& problem) {
  static std::map<Problem, std::unique_ptr<Prepared>> cache;
  auto& slot = cache[problem];
  if (!slot) slot = prepare(problem);
  return *slot;
}

}  // namespace

void onednn_matmul(float* c, const void* a, const void* b, const float* bias, int64_t M, int64_t N,
                   int64_t K, Transpose transpose_a, Transpose transpose_b, Accumulate accumulate,
                   MatmulType type) {
  const Problem problem{M,
                        N,
                        K,
                        transpose_a == Transpose::kYes,
                        transpose_b == Transpose::kYes,
                        accumulate == Accumulate::kYes,
                        bias != nullptr,
                        type,
                        omp_get_max_threads()};
  // Calls come from the model's thread, one at a time; the lock also keeps the cached memory
  // objects' handles from being swapped under a running primitive if that ever changes.
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  Prepared& p = prepared_for(problem);
  static dnnl::stream stream(cpu_engine());  // in-order CPU stream: execute returns when done
  p.a.set_data_handle(const_cast<void*>(a));
  p.b.set_data_handle(const_cast<void*>(b));
  p.c.set_data_handle(c);
  // The C API takes the arguments as an array: no map built (and allocated) per call.
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, p.a.get()},
                             {DNNL_ARG_WEIGHTS, p.b.get()},
                             {DNNL_ARG_DST, p.c.get()},
                             {DNNL_ARG_BIAS, nullptr}};
  int arg_count = 3;
  if (bias != nullptr) {
    p.bias.set_data_handle(const_cast<float*>(bias));
    args[arg_count++].memory = p.bias.get();
  }
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.primitive.get(), stream.get(), arg_count, args),
                          "oneDNN matmul failed");
  dnnl::error::wrap_c_api(dnnl_stream_wait(stream.get()), "oneDNN stream wait failed");
}

bool onednn_runs_bf16() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

bool onednn_uses_amx() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
}

}  // namespace utt::cpu
