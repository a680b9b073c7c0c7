// The gradients' sum over the ranks, in buckets handed to the communicator while the backward
// pass still runs: the pass reports which tail of the buffer is final (Transformer::backward's
// `final_from`), and each bucket inside it starts at once, so its data travels while the
// earlier layers' gradients are computed.
//
// The buckets are fixed slices [k S, (k + 1) S) of the buffer, started from the last, the same
// calls whether they overlap the backward pass or follow it: the sums' bits are those of the
// unbucketed path (and with MPI, whose sums add each element in rank order, those of one sum
// of the whole buffer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dist/communicator.h"

namespace utt {

class GradientBuckets {
 public:
  // `gradients`: `count` floats, summed in buckets of `bucket_floats`.
  GradientBuckets(Communicator& ranks, float* gradients, size_t count, size_t bucket_floats);

  // Gradients [offset, count) will not change again: starts every bucket that lies inside,
  // and lets the ones started earlier move on.
  void final_from(int64_t offset);
  // Starts the buckets not started yet and waits for every sum.
  void finish();
  // Buckets started before finish(): those that overlapped the backward pass.
  size_t started_early() const { return started_early_; }
  size_t bucket_count() const { return buckets_; }

 private:
  void start(size_t bucket);

  Communicator& ranks_;
  float* gradients_;
  size_t count_;
  size_t bucket_floats_;
  size_t buckets_;
  size_t unstarted_;  // buckets [0, unstarted_) wait; the ones above are started
  size_t started_early_ = 0;
};

}  // namespace utt
