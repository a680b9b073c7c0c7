// The peak an MFU is measured against: the GPU table by device name and precision, and the
// CPU's measured FMA rate, cached per CPU model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/compute_peak.h"
#include "backend/cpu/fma_peak.h"
#include "test_paths.h"

namespace utt {
namespace {

TEST(GpuPeak, ChosenByTheWordsOfTheDeviceNameAndThePrecision) {
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H100 80GB HBM3", MatmulPrecision::kBf16), 989);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H200", MatmulPrecision::kBf16), 989);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H200", MatmulPrecision::kTf32), 495);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H200", MatmulPrecision::kFp32), 67);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H100 PCIe", MatmulPrecision::kBf16), 756);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA H100 NVL", MatmulPrecision::kBf16), 835);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA A100-SXM4-80GB", MatmulPrecision::kBf16), 312);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA A100-SXM4-80GB", MatmulPrecision::kFp32), 19.5);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA L4", MatmulPrecision::kBf16), 121);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA L40S", MatmulPrecision::kBf16), 362);
  EXPECT_EQ(gpu_peak_tflops("NVIDIA GeForce RTX 4090", MatmulPrecision::kBf16), 165);
  // A word must match whole: an A10G is not an A10, a T4 is not an L4.
  EXPECT_FALSE(gpu_peak_tflops("NVIDIA A10G", MatmulPrecision::kBf16));
  EXPECT_FALSE(gpu_peak_tflops("Tesla T4", MatmulPrecision::kBf16));
  const ComputePeak unknown = gpu_compute_peak("Tesla T4", MatmulPrecision::kBf16);
  EXPECT_EQ(unknown.flops_per_second, 0);
  EXPECT_NE(unknown.source.find("--peak-tflops"), std::string::npos);
}

TEST(CpuPeak, MeasuredOnceThenReadFromTheCachePerCpuModel) {
  if (widest_fma().flops_per_instruction == 0) GTEST_SKIP() << "this CPU has neither AVX2+FMA nor AVX-512";
  const std::string cache = std::string(UTT_BINARY_DIR) + "/compute_peak_test_cache.json";
  std::filesystem::remove(cache);
  const ComputePeak measured = cpu_compute_peak(2, cache);
  EXPECT_GT(measured.flops_per_second, 0);
  EXPECT_NE(measured.source.find("measured now"), std::string::npos) << measured.source;
  ASSERT_TRUE(std::filesystem::exists(cache));
  // Every later run reads it: the same figure, per thread.
  const ComputePeak cached = cpu_compute_peak(4, cache);
  EXPECT_EQ(cached.flops_per_second, 2 * measured.flops_per_second);
  EXPECT_NE(cached.source.find("cached in"), std::string::npos) << cached.source;
  // A damaged cache is measured anew and rewritten.
  std::ofstream(cache) << "{not json";
  EXPECT_NE(cpu_compute_peak(2, cache).source.find("measured now"), std::string::npos);
  EXPECT_NE(cpu_compute_peak(2, cache).source.find("cached in"), std::string::npos);
  std::filesystem::remove(cache);
}

TEST(RunPeak, PeakTflopsOverridesTheMeasurement) {
  const ComputePeak peak = run_compute_peak(false, MatmulPrecision::kFp32, 1.5);
  EXPECT_EQ(peak.flops_per_second, 1.5e12);
  EXPECT_EQ(peak.source, "--peak-tflops 1.5");
}

}  // namespace
}  // namespace utt
