// The tokenizer of a training run: the checkpoint's when resuming, loaded (--tokenizer-path),
// reused from the output directory, or trained on the first --tokenizer-train-examples
// documents of the training split (with --auto-vocab-size choosing its size). Says which
// happened, and refuses an explicit --vocab-size that the tokenizer does not have. Writes
// nothing: the run saves tokenizer.json with its other outputs, once every check has passed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/train_config.h"
#include "data/document_stream.h"
#include "tokenizer/tokenizer.h"

namespace utt {

struct TokenizerInputs {
  std::vector<std::string> train_files;
  DocumentSelection training;  // hold-out and cap applied; the first examples are read
  // The run's validation text (a split, or the held-out share of train_files); empty files:
  // none. --auto-vocab-size measures compression on it.
  std::vector<std::string> validation_files;
  DocumentSelection validation;
  // A resumed run keeps the tokenizer its checkpoint was trained with.
  std::optional<std::filesystem::path> resume_checkpoint;
};

enum class TokenizerSource { kCheckpoint, kLoaded, kReused, kTrained };

struct PreparedTokenizer {
  Tokenizer tokenizer;
  TokenizerSource source = TokenizerSource::kTrained;
};

// `model` is the resolved architecture (for --auto-vocab-size's cost model).
PreparedTokenizer prepare_tokenizer(const TrainConfig& config, const ModelConfig& model,
                                    const TokenizerInputs& inputs);

}  // namespace utt
