#include "backend/backend_factory.h"

#include <string>

#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda_backend.h"
#include "util/error.h"

namespace utt {
namespace {

// A model calls every op somewhere (training, evaluation or generation), so a backend missing
// one cannot run it: refused here, before any weights are loaded or any output is written.
void require_every_op(const Backend& backend) {
  std::string missing;
  for (int i = 0; i < kOpCount; ++i) {
    if (!backend.supports(static_cast<Op>(i))) {
      missing += (missing.empty() ? "" : ", ") + std::string(op_name(static_cast<Op>(i)));
    }
  }
  if (!missing.empty()) {
    throw UserError("the " + backend.name() + " backend of this build has no kernel yet for: " + missing +
                    "; train with --device cpu");
  }
}

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendChoice& choice) {
  if (choice.kind == BackendKind::kCpu) {
    return make_cpu_backend({.reference_mode = false, .threads = choice.threads,
                             .bf16_matmuls = choice.mixed_precision});
  }
  std::unique_ptr<Backend> backend = make_cuda_backend(
      {.device = choice.device, .bf16_matmuls = choice.mixed_precision, .tf32_matmuls = choice.tf32});
  require_every_op(*backend);
  return backend;
}

std::string describe_matmul_kernels(const BackendChoice& choice) {
  if (choice.kind != BackendKind::kCpu || !choice.mixed_precision) return "";
  return cpu::bf16_kernel_choice().reason;
}

}  // namespace utt
