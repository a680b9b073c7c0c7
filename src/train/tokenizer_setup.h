// The tokenizer of a training run: loaded (--tokenizer-path), reused from the output directory,
// or trained on the first --tokenizer-train-examples documents of the training split (with
// --auto-vocab-size choosing its size). Says which happened.
#pragma once

#include <string>
#include <vector>

#include "config/train_config.h"
#include "data/document_stream.h"
#include "tokenizer/tokenizer.h"

namespace utt {

// `model` is the resolved architecture (for --auto-vocab-size's cost model). `training` selects
// the training documents (hold-out and cap applied); the tokenizer reads the first
// --tokenizer-train-examples of them.
Tokenizer prepare_tokenizer(const TrainConfig& config, const ModelConfig& model,
                            const std::vector<std::string>& train_files, DocumentSelection training);

}  // namespace utt
