// The trainer state a run starts from: a new run's (with a new run id), or its checkpoint's,
// with the schedule of this run.
#pragma once

#include <cstdint>
#include <string>

#include "config/train_config.h"
#include "train/checkpoint.h"
#include "train/output_dir.h"

namespace utt {

// A resume whose schedule length differs from the checkpoint's (a larger --max-steps or
// --epochs) continues the decay from where it stands (replan_schedule) and prints how; with
// the same length it continues exactly. A length below the checkpoint's step is refused.
// `ranks` data-parallel ranks train `config.batch_size` rows each: a resume on another number
// of ranks continues with the same batches when ranks x batch size is the checkpoint's and the
// model has no dropout (whose masks are drawn per rank); otherwise it is refused, saying why.
TrainerState starting_state(const TrainConfig& config, const ResumePoint* resume, int64_t total_steps,
                            const std::string& tokenizer_fingerprint, int64_t ranks = 1);

}  // namespace utt
