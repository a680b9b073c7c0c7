// The training log's lines, in the guide's format. Pure formatting (no I/O), so the format is
// tested exactly.
#pragma once

#include <cstdint>
#include <string>

namespace utt {

struct StepLogLine {
  int64_t step = 0;
  double loss = 0;
  double tokens_per_second = 0;
  double elapsed_seconds = 0;
  double learning_rate = 0;
  double grad_norm = 0;
  // Compute (docs/architecture.md, "Compute reporting"); each field is shown when known (> 0).
  double flops_per_second = 0;  // model FLOPs: tokens/s x FLOPs per token
  double mfu = 0;               // flops_per_second over the peak, 0..1
  int64_t peak_memory_bytes = 0;  // the backend's most bytes held at once so far
};

// "Step    100 │ Loss: 3.4567 │ Tokens/sec:    45,678 │ Time:   123.4s │ LR: 3.00e-04 │ Grad norm: 0.8123"
// then, when known, " │ TFLOP/s: 0.152 │ MFU: 73.1% │ Peak mem: 1.27 GiB"
std::string format_step_line(const StepLogLine& line);

// The guide's validation block:
//   "  Validation"
//   "  ─────────────────────────────"
//   "  Validation loss: 2.8901 (50 batches)"
//   "  Perplexity: 17.99"
//   "  ✓ New best validation loss! Saving to: DIR"   (only when `best_dir` is not empty)
std::string format_validation_block(double loss, int64_t batches, const std::string& best_dir);

// "1h02m03s", "4m05s", "12.3s"
std::string format_duration(double seconds);

// One line of a live progress bar (for a terminal, redrawn with '\r'):
// "[██████░░░░░░░░░░░░░░]  30% step 300/1,000 │ loss 3.2100 │ ETA 1m23s"
std::string format_progress_bar(int64_t step, int64_t total_steps, double loss,
                                double eta_seconds, int width);

}  // namespace utt
