// Where the trainer's batches come from: B windows of T + 1 token ids per call, and a state
// that, saved in a checkpoint and given back, resumes the exact sequence. The streaming loader
// and the token cache both provide one (src/data/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace utt {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills `tokens` with B * (T + 1) ids. False once the data of the last epoch is used up.
  virtual bool next_batch(std::vector<uint32_t>& tokens) = 0;
  // The position after the last batch returned (opaque; stored in trainer_state.json).
  virtual std::string state() const = 0;
  virtual int64_t epoch() const = 0;
};

}  // namespace utt
