// The op registry (as ggml's test-backend-ops): every op of backend.h, on the cases of
// op_cases.cpp, through the backend's own memory (allocate, upload, run, download), on every
// backend this build has, against the CPU backend's reference kernels.
//
// Tolerances, relative to the largest magnitude of each buffer the reference leaves:
// - fp32 kernels: 2e-5 (float arithmetic against double-accumulating reference kernels; long
//   reductions, K up to ~1000, need the headroom above float's 6e-8).
// - bf16 matmuls (--use-mixed-precision): 2e-5 against the reference on the same bf16-rounded
//   operands (a product of two bf16 values is exact in fp32, so only the summation order differs),
//   and 2e-2 against the fp32 reference (each operand rounds by up to 2^-9 of itself).
// - attention under --use-mixed-precision at head sizes 64 and 128 (the CUDA backend's tensor-core
//   flash kernel): 2e-2 against the fp32 reference.
// - scalars (sum, sum_of_squares): 1e-9 of the sum of the terms' magnitudes.
// Besides agreeing with the reference, every op must give bit-identical results when run twice on
// the same backend (backend.h: determinism, reductions into gradients included).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda_backend.h"
#include "backend/device.h"
#include "unit/backend/op_cases.h"
#include "util/error.h"

namespace utt {
namespace {

using test::OpCase;

constexpr double kFp32Tolerance = 2e-5;
constexpr double kBf16AgainstFp32Tolerance = 2e-2;
constexpr double kScalarTolerance = 1e-9;

struct BackendUnderTest {
  std::string name;
  bool bf16 = false;
  bool cuda = false;
};
// Test names (and ctest's) show the backend by name, not as bytes.
void PrintTo(const BackendUnderTest& which, std::ostream* os) { *os << which.name; }

// The backend, or a reason to skip: a CUDA backend needs a CUDA build and a visible GPU.
std::unique_ptr<Backend> make_under_test(const BackendUnderTest& which, std::string* skip_reason) {
  if (!which.cuda) return make_cpu_backend({.reference_mode = false, .threads = 2, .bf16_matmuls = which.bf16});
  const CudaStatus cuda = query_cuda();
  if (!cuda.built) {
    *skip_reason = "this build has no CUDA backend (configured without nvcc)";
    return nullptr;
  }
  if (cuda.gpus.empty()) {
    *skip_reason = "no GPU is visible: " + cuda.problem;
    return nullptr;
  }
  return make_cuda_backend({.device = 0, .bf16_matmuls = which.bf16});
}

struct OpResult {
  std::vector<std::vector<float>> floats;
  std::vector<double> scalars;
};

// Allocates the case's buffers on `backend`, uploads their contents, runs the op, downloads every
// buffer back.
OpResult run_case(Backend& backend, const OpCase& c) {
  std::vector<BackendBuffer<float>> float_buffers;
  std::vector<BackendBuffer<int32_t>> int_buffers;
  float_buffers.reserve(c.floats.size());
  int_buffers.reserve(c.ints.size());
  std::vector<float*> floats;
  std::vector<int32_t*> ints;
  for (const std::vector<float>& host : c.floats) {
    const auto count = static_cast<int64_t>(host.size());
    float_buffers.emplace_back(backend, std::max<int64_t>(count, 1));
    backend.upload(float_buffers.back().get(), host.data(), count);
    floats.push_back(float_buffers.back().get());
  }
  for (const std::vector<int32_t>& host : c.ints) {
    const auto count = static_cast<int64_t>(host.size());
    int_buffers.emplace_back(backend, std::max<int64_t>(count, 1));
    backend.upload(int_buffers.back().get(), host.data(), count);
    ints.push_back(int_buffers.back().get());
  }
  OpResult result;
  result.scalars = c.run(backend, floats, ints);
  for (size_t b = 0; b < c.floats.size(); ++b) {
    result.floats.emplace_back(c.floats[b].size());
    backend.download(result.floats.back().data(), floats[b], static_cast<int64_t>(c.floats[b].size()));
  }
  return result;
}

void expect_close(const OpResult& actual, const OpResult& expected, const OpCase& c, double tolerance,
                  const std::string& what) {
  for (size_t b = 0; b < c.floats.size(); ++b) {
    if (c.scratch.contains(b)) continue;
    double largest = 0, difference = 0;
    size_t worst = 0;
    for (size_t i = 0; i < expected.floats[b].size(); ++i) {
      const double e = expected.floats[b][i], a = actual.floats[b][i];
      largest = std::max(largest, std::abs(e));
      if (!(std::abs(a - e) <= difference)) {  // NaN lands here too
        difference = std::isnan(a - e) ? INFINITY : std::abs(a - e);
        worst = i;
      }
    }
    EXPECT_LE(difference, tolerance * std::max(largest, 1e-30))
        << what << " " << c.shape << ": buffer " << b << ", element " << worst << " differs by " << difference
        << " (largest magnitude " << largest << ")";
  }
  for (size_t s = 0; s < expected.scalars.size(); ++s) {
    EXPECT_NEAR(actual.scalars[s], expected.scalars[s], kScalarTolerance * c.scalar_scale)
        << what << " " << c.shape << ": scalar " << s;
  }
}

void expect_identical(const OpResult& first, const OpResult& second, const OpCase& c, const std::string& what) {
  for (size_t b = 0; b < c.floats.size(); ++b) {
    if (c.scratch.contains(b)) continue;
    EXPECT_EQ(0, std::memcmp(first.floats[b].data(), second.floats[b].data(), first.floats[b].size() * sizeof(float)))
        << what << " " << c.shape << ": buffer " << b << " differs between two runs";
  }
  EXPECT_EQ(first.scalars, second.scalars) << what << " " << c.shape << ": scalars differ between two runs";
}

std::string test_name(const std::string& backend, Op op) { return backend + "_" + op_name(op); }

// ---- every op on the fp32 backends -------------------------------------------------------------

class OpRegistry : public testing::TestWithParam<std::tuple<BackendUnderTest, int>> {};

TEST_P(OpRegistry, MatchesTheReferenceAndRepeatsBitForBit) {
  const auto& [which, op_index] = GetParam();
  const Op op = static_cast<Op>(op_index);
  const std::vector<OpCase> cases = test::op_cases(op);
  ASSERT_FALSE(cases.empty()) << "the registry has no case for " << op_name(op) << ": add one to op_cases.cpp";
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(which, &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  if (!backend->supports(op)) GTEST_SKIP() << backend->name() << " has no kernel for " << op_name(op) << " yet";
  const std::unique_ptr<Backend> reference = make_cpu_backend({.reference_mode = true});
  for (const OpCase& c : cases) {
    const OpResult expected = run_case(*reference, c);
    const OpResult actual = run_case(*backend, c);
    expect_close(actual, expected, c, kFp32Tolerance, op_name(op));
    expect_identical(actual, run_case(*backend, c), c, op_name(op));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, OpRegistry,
    testing::Combine(testing::Values(BackendUnderTest{"Cpu", false, false}, BackendUnderTest{"Cuda", false, true}),
                     testing::Range(0, kOpCount)),
    [](const testing::TestParamInfo<OpRegistry::ParamType>& param) {
      return test_name(std::get<0>(param.param).name, static_cast<Op>(std::get<1>(param.param)));
    });

// ---- bf16 matmuls (--use-mixed-precision) ------------------------------------------------------

class Bf16OpRegistry : public testing::TestWithParam<BackendUnderTest> {};

TEST_P(Bf16OpRegistry, MatmulMatchesTheReferenceOnBf16OperandsAndStaysNearFp32) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  if (!backend->supports(Op::kMatmul)) GTEST_SKIP() << backend->name() << " has no kernel for matmul yet";
  const std::unique_ptr<Backend> bf16_reference = make_cpu_backend({.reference_mode = true, .bf16_matmuls = true});
  const std::unique_ptr<Backend> fp32_reference = make_cpu_backend({.reference_mode = true});
  for (const OpCase& c : test::bf16_cases()) {
    const OpResult actual = run_case(*backend, c);
    expect_close(actual, run_case(*bf16_reference, c), c, kFp32Tolerance, "bf16 matmul vs bf16 reference");
    expect_close(actual, run_case(*fp32_reference, c), c, kBf16AgainstFp32Tolerance, "bf16 matmul vs fp32 reference");
    expect_identical(actual, run_case(*backend, c), c, "bf16 matmul");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Bf16OpRegistry,
                         testing::Values(BackendUnderTest{"CpuBf16", true, false}, BackendUnderTest{"CudaBf16", true, true}),
                         [](const testing::TestParamInfo<BackendUnderTest>& param) { return param.param.name; });

// ---- attention under --use-mixed-precision (the tensor-core flash kernel on CUDA) -------------

// bf16 q, k, v, probabilities, dout and score gradients against the fp32 reference: the host
// emulation of the same kernel logic (flash_attention_test.cpp) stays within 0.5% on these
// inputs; 2% leaves room for the tensor cores' own accumulation order.
constexpr double kFlashAttentionTolerance = 2e-2;

class FlashAttentionOpRegistry : public testing::TestWithParam<BackendUnderTest> {};

TEST_P(FlashAttentionOpRegistry, MatchesTheReferenceWithinBf16ToleranceAndRepeatsBitForBit) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  const std::unique_ptr<Backend> reference = make_cpu_backend({.reference_mode = true});
  for (const OpCase& c : test::flash_attention_cases()) {
    const OpResult actual = run_case(*backend, c);
    expect_close(actual, run_case(*reference, c), c, kFlashAttentionTolerance, "flash attention");
    expect_identical(actual, run_case(*backend, c), c, "flash attention");
  }
}

// Head sizes the tensor-core kernel does not take fall back to the fp32 kernels: fp32 tolerance.
TEST_P(FlashAttentionOpRegistry, OtherHeadSizesFallBackToTheFp32Kernels) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  const std::unique_ptr<Backend> reference = make_cpu_backend({.reference_mode = true});
  for (const OpCase& c : test::op_cases(Op::kAttentionBackward)) {
    expect_close(run_case(*backend, c), run_case(*reference, c), c, kFp32Tolerance, "attention fallback");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, FlashAttentionOpRegistry,
                         testing::Values(BackendUnderTest{"CpuBf16", true, false}, BackendUnderTest{"CudaBf16", true, true}),
                         [](const testing::TestParamInfo<BackendUnderTest>& param) { return param.param.name; });

// ---- TF32 matmuls (--tf32, CUDA only) ------------------------------------------------------------

// TF32 keeps 10 of fp32's 23 mantissa bits of each operand: within bf16's bound of the fp32
// reference (2e-2; TF32 rounds 8x finer), and repeatable bit for bit.
TEST(Tf32OpRegistry, CudaMatmulStaysNearFp32AndRepeatsBitForBit) {
  const CudaStatus cuda = query_cuda();
  if (cuda.gpus.empty()) {
    GTEST_SKIP() << (cuda.built ? "no GPU is visible: " + cuda.problem : "this build has no CUDA backend");
  }
  const std::unique_ptr<Backend> backend = make_cuda_backend({.device = 0, .tf32_matmuls = true});
  EXPECT_NE(backend->name().find("TF32"), std::string::npos) << backend->name();
  const std::unique_ptr<Backend> fp32_reference = make_cpu_backend({.reference_mode = true});
  for (const OpCase& c : test::bf16_cases()) {
    const OpResult actual = run_case(*backend, c);
    expect_close(actual, run_case(*fp32_reference, c), c, kBf16AgainstFp32Tolerance, "tf32 matmul vs fp32 reference");
    expect_identical(actual, run_case(*backend, c), c, "tf32 matmul");
  }
}

// ---- the execution contract's memory rules -----------------------------------------------------

class BackendContract : public testing::TestWithParam<BackendUnderTest> {};

// Uploads from a stack array that goes out of scope as soon as upload returns.
void upload_from_stack(Backend& backend, int32_t* device, int32_t first) {
  int32_t values[3] = {first, first + 1, first + 2};
  backend.upload(device, values, 3);
  values[0] = values[1] = values[2] = -1;  // reused at once, as the contract allows
}

TEST_P(BackendContract, UploadedHostMemoryMayBeReusedAtOnce) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  // A staging vector refilled before each upload, as the model's token staging is.
  std::vector<float> staging(1000);
  BackendBuffer<float> first(*backend, 1000), second(*backend, 1000);
  for (size_t i = 0; i < staging.size(); ++i) staging[i] = static_cast<float>(i);
  backend->upload(first.get(), staging.data(), 1000);
  for (size_t i = 0; i < staging.size(); ++i) staging[i] = -static_cast<float>(i);
  backend->upload(second.get(), staging.data(), 1000);
  staging.assign(staging.size(), 0.5f);
  BackendBuffer<int32_t> tokens(*backend, 6);
  upload_from_stack(*backend, tokens.get(), 10);
  upload_from_stack(*backend, tokens.get() + 3, 20);
  // The int buffer reaches the host through an op that reads it: the embedding of those ids.
  BackendBuffer<float> table(*backend, 23), out(*backend, 6);
  std::vector<float> ids(23);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<float>(i);
  backend->upload(table.get(), ids.data(), 23);
  backend->embedding_forward(out.get(), tokens.get(), table.get(), nullptr, nullptr, 1, 6, 1);

  std::vector<float> a(1000), b(1000), embedded(6);
  backend->download(a.data(), first.get(), 1000);
  backend->download(b.data(), second.get(), 1000);
  backend->download(embedded.data(), out.get(), 6);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(a[i], static_cast<float>(i));
    ASSERT_EQ(b[i], -static_cast<float>(i));
  }
  EXPECT_EQ(embedded, (std::vector<float>{10, 11, 12, 20, 21, 22}));
}

TEST_P(BackendContract, NewBuffersAreZeroAndSynchronizeReturns) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  BackendBuffer<float> x(*backend, 4097);
  backend->synchronize();
  std::vector<float> host(4097, 1.0f);
  backend->download(host.data(), x.get(), 4097);
  EXPECT_EQ(host, std::vector<float>(4097, 0.0f));
}

// The peak counts every buffer held at once and stays at its highest after buffers are released.
TEST_P(BackendContract, PeakAllocatedBytesIsTheMostHeldAtOnce) {
  std::string skip_reason;
  const std::unique_ptr<Backend> backend = make_under_test(GetParam(), &skip_reason);
  if (!backend) GTEST_SKIP() << skip_reason;
  const int64_t before = backend->peak_allocated_bytes();  // the backend's own workspace, if any
  {
    BackendBuffer<float> a(*backend, 1000);
    BackendBuffer<int32_t> b(*backend, 500);
    EXPECT_GE(backend->peak_allocated_bytes(), before + 6000);
  }
  const int64_t after_pair = backend->peak_allocated_bytes();
  {
    BackendBuffer<float> c(*backend, 100);  // fits in what a and b left free
    EXPECT_EQ(backend->peak_allocated_bytes(), after_pair);
  }
  BackendBuffer<float> d(*backend, 10000);
  EXPECT_GE(backend->peak_allocated_bytes(), before + 40000);
  EXPECT_LT(backend->peak_allocated_bytes(), before + 40000 + 6000);  // a and b are gone
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendContract,
                         testing::Values(BackendUnderTest{"Cpu", false, false}, BackendUnderTest{"Cuda", false, true}),
                         [](const testing::TestParamInfo<BackendUnderTest>& param) { return param.param.name; });

// ---- the factory a run uses ---------------------------------------------------------------------

TEST(BackendFactory, TheCpuKindIsTheCpuBackendInTheRunsPrecision) {
  EXPECT_EQ(make_backend({.kind = BackendKind::kCpu, .threads = 1})->name(), "CPU");
  EXPECT_EQ(make_backend({.kind = BackendKind::kCpu, .threads = 1, .mixed_precision = true})->name(),
            "CPU, bf16 matmuls");
}

TEST(BackendFactory, TheCudaKindWithoutAVisibleGpuIsRefusedWithTheReason) {
  const CudaStatus cuda = query_cuda();
  if (!cuda.gpus.empty()) GTEST_SKIP() << "a GPU is visible";
  try {
    make_backend({.kind = BackendKind::kCuda});
    FAIL() << "expected a UserError";
  } catch (const UserError& error) {
    EXPECT_EQ(std::string(error.what()), "--device cuda: " + cuda.problem);
  }
}

}  // namespace
}  // namespace utt
