// The tensor-core flash attention's kernels on a GPU, called directly (not through the backend,
// which passes no document mask yet): forward and backward against plain masked attention in
// double, with and without document masks, on odd lengths, grouped-query heads and both head
// sizes, and repeated bit for bit. Skipped, saying so, when no GPU is visible; their logic runs on
// the CPU in flash_attention_test.cpp.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/cuda/flash_attention.h"
#include "backend/device.h"
#include "unit/backend/float_vectors.h"
#include "unit/backend/masked_attention.h"

namespace utt {
namespace {

using test::Shape;

// bf16 operands against double: the host emulation of the same logic is within 0.5% on these
// inputs (flash_attention_test.cpp); 2% leaves room for the tensor cores' accumulation order.
constexpr double kTolerance = 2e-2;

void expect_success(cudaError_t error, const char* what) {
  ASSERT_EQ(error, cudaSuccess) << what << ": " << cudaGetErrorString(error);
}

// A device copy of a host vector, freed with it.
template <typename V>
struct DeviceVector {
  V* data = nullptr;
  size_t size = 0;
  explicit DeviceVector(const std::vector<V>& host) : size(host.size()) {
    expect_success(cudaMalloc(&data, size * sizeof(V)), "cudaMalloc");
    expect_success(cudaMemcpy(data, host.data(), size * sizeof(V), cudaMemcpyHostToDevice), "upload");
  }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;
  ~DeviceVector() { cudaFree(data); }
  std::vector<V> download() const {
    std::vector<V> host(size);
    expect_success(cudaMemcpy(host.data(), data, size * sizeof(V), cudaMemcpyDeviceToHost), "download");
    return host;
  }
};

struct Results {
  std::vector<float> out, lse, dqkv;
};

// One forward and one backward through the launchers; outputs start as NaN, so an element the
// kernels fail to write shows up.
Results run_kernels(const std::vector<float>& qkv, const std::vector<float>& dout, const std::vector<int32_t>* doc_pos,
                    const Shape& s) {
  const DeviceVector<float> qkv_d(qkv), dout_d(dout);
  const DeviceVector<float> out_d(std::vector<float>(dout.size(), NAN));
  const DeviceVector<float> lse_d(std::vector<float>(static_cast<size_t>(s.B * s.NH * s.T), NAN));
  const DeviceVector<float> dqkv_d(std::vector<float>(qkv.size(), NAN));
  const DeviceVector<int32_t> positions_d(doc_pos != nullptr ? *doc_pos : std::vector<int32_t>(1));
  const int32_t* positions = doc_pos != nullptr ? positions_d.data : nullptr;
  cuda::flash_attention_forward(out_d.data, lse_d.data, qkv_d.data, positions, s.B, s.T, s.NH, s.KVH, s.HS, nullptr);
  cuda::flash_attention_backward(dqkv_d.data, dout_d.data, qkv_d.data, out_d.data, lse_d.data, positions, s.B, s.T,
                                 s.NH, s.KVH, s.HS, nullptr);
  expect_success(cudaDeviceSynchronize(), "the flash attention kernels");
  return Results{out_d.download(), lse_d.download(), dqkv_d.download()};
}

std::string gpu_missing() {
  const CudaStatus cuda = query_cuda();
  if (!cuda.gpus.empty()) return "";
  return "no GPU is visible: " + (cuda.built ? cuda.problem : std::string("this build has no CUDA backend"));
}

constexpr Shape kShapes[] = {{1, 1, 1, 1, 64},   {2, 67, 4, 2, 64},   {1, 200, 4, 1, 64},
                             {1, 45, 2, 2, 128}, {2, 130, 3, 1, 128}, {1, 1000, 2, 2, 64}};

void expect_matches(const Shape& s, bool with_documents, uint64_t seed) {
  const std::vector<float> qkv = test::random_floats(s.B * s.T * (s.NH + 2 * s.KVH) * s.HS, seed);
  const std::vector<float> dout = test::random_floats(s.B * s.T * s.NH * s.HS, seed + 1);
  const std::vector<int32_t> positions = test::document_positions(s.B, s.T);
  const std::vector<int32_t>* doc_pos = with_documents ? &positions : nullptr;
  const test::Expected expected = test::masked_attention(qkv, dout, with_documents ? positions.data() : nullptr, s);
  const Results actual = run_kernels(qkv, dout, doc_pos, s);
  const std::string shape = "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " NH=" + std::to_string(s.NH) +
                            " KVH=" + std::to_string(s.KVH) + " HS=" + std::to_string(s.HS) +
                            (with_documents ? " with documents" : "");
  EXPECT_LE(test::relative_error(actual.out, expected.out), kTolerance) << "out " << shape;
  EXPECT_LE(test::relative_error(actual.lse, expected.lse), kTolerance) << "lse " << shape;
  EXPECT_LE(test::relative_error(actual.dqkv, expected.dqkv), kTolerance) << "dqkv " << shape;
  const Results again = run_kernels(qkv, dout, doc_pos, s);
  EXPECT_EQ(again.out, actual.out) << "out not repeated bit for bit, " << shape;
  EXPECT_EQ(again.lse, actual.lse) << "lse not repeated bit for bit, " << shape;
  EXPECT_EQ(again.dqkv, actual.dqkv) << "dqkv not repeated bit for bit, " << shape;
}

TEST(FlashAttentionOnGpu, MatchesPlainCausalAttentionAndRepeatsBitForBit) {
  const std::string missing = gpu_missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  uint64_t seed = 100;
  for (const Shape& s : kShapes) expect_matches(s, false, seed += 2);
}

TEST(FlashAttentionOnGpu, DocumentMasksMatchPlainMaskedAttention) {
  const std::string missing = gpu_missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  uint64_t seed = 200;
  for (const Shape& s : kShapes) expect_matches(s, true, seed += 2);
}

}  // namespace
}  // namespace utt
