// The device a run uses: the CPU, or the CUDA backend when asked for or when a GPU is visible.
#include <gtest/gtest.h>

#include "cli/run_plan.h"
#include "util/error.h"

namespace utt {
namespace {

CudaStatus gpus(int count) {
  CudaStatus status;
  status.built = true;
  for (int i = 0; i < count; ++i) status.gpus.push_back({"NVIDIA H100", int64_t{80} << 30});
  return status;
}

TEST(RunPlan, OneThreadIsOneThread) {
  TrainConfig c;
  c.device = "cpu";
  c.threads = 1;
  EXPECT_EQ(plan_device(c, {}).devices, "1x cpu (1 thread)");
  c.threads = 2;
  EXPECT_EQ(plan_device(c, {}).devices, "1x cpu (2 threads)");
}

// --device cuda, and auto when a GPU is visible: the CUDA backend on the first GPU, named as the
// guide's banner names it.
TEST(RunPlan, DeviceCudaAndAutoWithAGpuTrainOnTheGpu) {
  TrainConfig c;
  c.device = "cuda";
  const DevicePlan plan = plan_device(c, gpus(4));
  EXPECT_EQ(plan.kind, BackendKind::kCuda);
  EXPECT_EQ(plan.backend, "GPU");
  EXPECT_EQ(plan.devices, "1x NVIDIA H100 (80.00 GiB)");
  EXPECT_EQ(plan.note, "\u2713 GPU Optimizations: CUDA acceleration enabled");
  c.device = "auto";
  EXPECT_EQ(plan_device(c, gpus(1)).kind, BackendKind::kCuda);
  c.device = "cpu";
  EXPECT_EQ(plan_device(c, gpus(1)).kind, BackendKind::kCpu);
}

TEST(RunPlan, AutoWithoutAGpuTrainsOnTheCpuAndCudaIsRefused) {
  TrainConfig c;
  CudaStatus none;
  none.problem = "no CUDA GPU is visible";
  c.device = "auto";
  EXPECT_EQ(plan_device(c, none).kind, BackendKind::kCpu);
  c.device = "cuda";
  try {
    plan_device(c, none);
    ADD_FAILURE() << "--device cuda without a GPU was accepted";
  } catch (const UserError& error) {
    EXPECT_EQ(std::string(error.what()), "--device cuda: no CUDA GPU is visible");
  }
}

}  // namespace
}  // namespace utt
