// training_summary.json's epochs_completed: the epochs whose every batch was trained on.
#include <gtest/gtest.h>

#include "train/run_summary.h"

namespace utt {
namespace {

TEST(TrainingSummary, EpochsCompletedCountsWholeEpochs) {
  // 10 batches an epoch, 3 epochs, one batch a step: 30 steps hold all the data.
  const EpochCount count{3, 30, 10, 1};
  EXPECT_EQ(completed_epochs(0, count), 0);
  EXPECT_EQ(completed_epochs(9, count), 0);
  EXPECT_EQ(completed_epochs(10, count), 1);  // after one full epoch: 1, not 0
  EXPECT_EQ(completed_epochs(29, count), 2);
  EXPECT_EQ(completed_epochs(30, count), 3);
  // With accumulation 3, an epoch's 10 batches leave 1 over: 3 epochs are 10 steps, and the
  // run that took them all completed every epoch.
  const EpochCount accumulated{3, 10, 10, 3};
  EXPECT_EQ(completed_epochs(3, accumulated), 0);
  EXPECT_EQ(completed_epochs(4, accumulated), 1);
  EXPECT_EQ(completed_epochs(10, accumulated), 3);
}

}  // namespace
}  // namespace utt
