// The loss plot of a run: one self-contained SVG (no scripts, fonts or links), training and
// validation loss against steps (tokens on the top axis), the learning rate below it.
#pragma once

#include <filesystem>
#include <string>

#include "obs/metrics_series.h"

namespace utt {

inline constexpr const char* kLossPlotName = "training_curves.svg";

// The SVG document. Each curve is a <polyline> whose data-series attribute names it
// (train_loss, validation_loss, learning_rate), one point per logged entry, in step order.
std::string render_loss_plot(const MetricsSeries& series, const std::string& title);

// Reads OUTPUT_DIR/metrics.jsonl and writes OUTPUT_DIR/training_curves.svg (atomically, so a
// browser open on it never sees half a file). Safe while the run appends to the metrics.
// Returns what it drew. Throws UserError when the directory has no metrics.jsonl or nothing is
// logged in it yet.
MetricsSeries write_loss_plot(const std::filesystem::path& output_dir);

}  // namespace utt
