// What to change when a run does not fit in the device's memory: the flags that shrink it.
#pragma once

#include <string>

#include "config/model_config.h"
#include "config/train_config.h"

namespace utt {

// "to fit, train with --batch-size 8 --gradient-accumulation-steps 8 (64 sequences per step, as
// now), or --use-mixed-precision (bf16 matmul operands), or a smaller --seq-len (e.g. 512), or a
// smaller model (--model-preset small)": halving the micro-batch while doubling the accumulation
// keeps the effective batch (and the training) the same; each option appears only when it is
// still possible (a batch of 1 cannot halve, a run in bf16 already is, nano has no smaller preset).
std::string out_of_memory_advice(const TrainConfig& config, const ModelConfig& model);

}  // namespace utt
