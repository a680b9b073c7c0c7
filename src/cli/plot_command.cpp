// `utt plot`: a run's loss curves as an SVG, from its metrics.jsonl. It only reads the run's
// files and replaces the plot atomically, so it works on a finished run and on one that is
// training right now (the run writes the same plot when it ends).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "cli/command_flags.h"
#include "cli/commands.h"
#include "obs/loss_plot.h"
#include "obs/metrics_series.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

const char* const kPlotHelp =
    "utt plot - draw a training run's loss curves as an SVG\n"
    "\n"
    "Usage: utt plot --run DIR\n"
    "\n"
    "  --run DIR   the --output-dir of a utt train run, finished or still training\n"
    "\n"
    "Writes DIR/training_curves.svg from DIR/metrics.jsonl: training and validation loss against\n"
    "steps (tokens on the top axis) and the learning rate below. The file is self-contained (open\n"
    "it in a browser); a run writes it too when it ends. For live curves, TensorBoard reads the\n"
    "run's event files: tensorboard --logdir DIR\n";

}  // namespace

int run_plot(const std::vector<std::string>& args) {
  const CommandFlags flags(args, "utt plot", {{"run"}, {}, {}});
  if (flags.help()) {
    fmt::print("{}", kPlotHelp);
    return 0;
  }
  const fs::path run = flags.required("run");
  std::error_code error;
  if (!fs::is_directory(run, error)) {
    throw UserError("--run " + run.string() + " is not a directory: give the --output-dir of a utt train run");
  }
  const MetricsSeries series = write_loss_plot(run);
  fmt::print("Plot: {} ({} training and {} validation points, up to step {})\n", (run / kLossPlotName).string(),
             series.train.size(), series.validation.size(),
             std::max(series.train.empty() ? 0 : series.train.back().step,
                      series.validation.empty() ? 0 : series.validation.back().step));
  return 0;
}

}  // namespace utt
