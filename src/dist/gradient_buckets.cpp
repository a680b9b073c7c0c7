#include "dist/gradient_buckets.h"

#include <algorithm>

#include "util/error.h"

namespace utt {

GradientBuckets::GradientBuckets(Communicator& ranks, float* gradients, size_t count, size_t bucket_floats)
    : ranks_(ranks),
      gradients_(gradients),
      count_(count),
      bucket_floats_(bucket_floats),
      buckets_(bucket_floats == 0 ? 0 : (count + bucket_floats - 1) / bucket_floats),
      unstarted_(buckets_) {
  UTT_CHECK(bucket_floats > 0, "a gradient bucket holds at least one float");
}

void GradientBuckets::final_from(int64_t offset) {
  UTT_CHECK(offset >= 0 && static_cast<size_t>(offset) <= count_, "a final offset lies inside the gradients");
  while (unstarted_ > 0 && (unstarted_ - 1) * bucket_floats_ >= static_cast<size_t>(offset)) {
    start(unstarted_ - 1);
    ++started_early_;
  }
  ranks_.progress_all_reduces();
}

void GradientBuckets::finish() {
  while (unstarted_ > 0) start(unstarted_ - 1);
  ranks_.finish_all_reduces();
}

void GradientBuckets::start(size_t bucket) {
  const size_t first = bucket * bucket_floats_;
  ranks_.start_all_reduce_sum(gradients_ + first, std::min(bucket_floats_, count_ - first));
  unstarted_ = bucket;
}

}  // namespace utt
