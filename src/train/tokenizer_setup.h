// The tokenizer of a training run: loaded (--tokenizer-path), reused from the output directory,
// or trained on the first --tokenizer-train-examples documents of the training split (with
// --auto-vocab-size choosing its size). Says which happened.
#pragma once

#include <string>
#include <vector>

#include "config/train_config.h"
#include "tokenizer/tokenizer.h"

namespace utt {

// `model` is the resolved architecture (for --auto-vocab-size's cost model).
Tokenizer prepare_tokenizer(const TrainConfig& config, const ModelConfig& model,
                            const std::vector<std::string>& train_files);

}  // namespace utt
