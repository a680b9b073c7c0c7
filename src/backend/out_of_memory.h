// A device allocation that did not fit. It is a user problem (the run asked for more memory than
// the device has), so a UserError; the training run catches it to add the flags that would fit
// (train/memory_advice.h), which the backend cannot know.
#pragma once

#include <cstdint>
#include <string>

#include "util/error.h"

namespace utt {

class OutOfDeviceMemory : public UserError {
 public:
  OutOfDeviceMemory(const std::string& message, int64_t asked, int64_t available)
      : UserError(message), bytes_asked(asked), bytes_free(available) {}
  int64_t bytes_asked;
  int64_t bytes_free;  // -1 when unknown
};

}  // namespace utt
