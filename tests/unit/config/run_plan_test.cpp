// The device a run uses, and that a dry run never promises what a run refuses.
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

// Several GPUs and --device cuda: the plan shows them, and says the run refuses them; it never
// announces acceleration or multi-device training this build does not do.
TEST(RunPlan, ADryRunOnGpusNeverPromisesWhatTheRunRefuses) {
  TrainConfig c;
  c.device = "cuda";
  const DevicePlan plan = plan_device(c, gpus(4));
  EXPECT_EQ(plan.devices, "4x NVIDIA H100");
  EXPECT_EQ(plan.note.find("enabled"), std::string::npos) << plan.note;
  EXPECT_NE(plan.note.find("a run refuses --device cuda"), std::string::npos) << plan.note;
  c.device = "auto";
  EXPECT_EQ(plan_device(c, gpus(4)).backend, "CPU");
  c.device = "cuda";
  CudaStatus none;
  none.problem = "no CUDA GPU is visible";
  EXPECT_THROW(plan_device(c, none), UserError);
}

}  // namespace
}  // namespace utt
