#include "obs/console_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "util/text.h"

namespace utt {

std::string format_step_line(const StepLogLine& l) {
  std::string line = fmt::format("Step {:>6} \u2502 Loss: {:.4f} \u2502 Tokens/sec: {:>9} \u2502 Time: {:>7.1f}s "
                                 "\u2502 LR: {:.2e} \u2502 Grad norm: {:.4f}",
                                 l.step, l.loss, with_thousands(std::llround(l.tokens_per_second)),
                                 l.elapsed_seconds, l.learning_rate, l.grad_norm);
  // The extras after the guide's fields, in its "Name: value" style. TFLOP/s with three
  // decimals reads a CPU's ~0.1 and a GPU's ~400 alike.
  if (l.flops_per_second > 0) line += fmt::format(" \u2502 TFLOP/s: {:.3f}", l.flops_per_second / 1e12);
  if (l.mfu > 0) line += fmt::format(" \u2502 MFU: {:.1f}%", 100 * l.mfu);
  if (l.peak_memory_bytes > 0) {
    line += fmt::format(" \u2502 Peak mem: {:.2f} GiB", static_cast<double>(l.peak_memory_bytes) / (1 << 30));
  }
  return line;
}

std::string format_validation_block(double loss, int64_t batches, const std::string& best_dir) {
  std::string block = "  Validation\n  ";
  for (int i = 0; i < 29; ++i) block += "\u2500";
  block += fmt::format("\n  Validation loss: {:.4f} ({} batches)\n  Perplexity: {:.2f}\n", loss,
                       batches, std::exp(std::min(loss, 700.0)));
  if (!best_dir.empty()) {
    block += "  \u2713 New best validation loss! Saving to: " + best_dir + "\n";
  }
  return block;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const int64_t total = std::llround(seconds);
  const int64_t hours = total / 3600;
  const int64_t minutes = total % 3600 / 60;
  const int64_t secs = total % 60;
  if (hours > 0) return fmt::format("{}h{:02}m{:02}s", hours, minutes, secs);
  return fmt::format("{}m{:02}s", minutes, secs);
}

std::string format_progress_bar(int64_t step, int64_t total_steps, double loss,
                                double eta_seconds, int width) {
  const double fraction =
      total_steps > 0 ? std::clamp(static_cast<double>(step) / total_steps, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(fraction * width);
  std::string bar = "[";
  for (int i = 0; i < width; ++i) bar += i < filled ? "\u2588" : "\u2591";
  bar += "]";
  return fmt::format("{} {:>3.0f}% step {}/{} \u2502 loss {:.4f} \u2502 ETA {}", bar,
                     100 * fraction, with_thousands(step), with_thousands(total_steps), loss,
                     format_duration(eta_seconds));
}

}  // namespace utt
