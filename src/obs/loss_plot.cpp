#include "obs/loss_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "io/staged_dir.h"
#include "util/error.h"

namespace utt {
namespace fs = std::filesystem;

namespace {

// The drawing's layout in SVG user units: the loss panel above, the learning-rate panel below,
// sharing the step axis.
constexpr double kWidth = 960;
constexpr double kHeight = 640;
constexpr double kLeft = 84;
constexpr double kRight = kWidth - 28;
constexpr double kLossTop = 78;
constexpr double kLossBottom = 400;
constexpr double kLrTop = 448;
constexpr double kLrBottom = 580;

constexpr const char* kTrainColor = "#1f77b4";
constexpr const char* kValidationColor = "#e8710a";
constexpr const char* kLrColor = "#2ca02c";
constexpr const char* kGridColor = "#e4e4e4";

struct Axis {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
};

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them, the range widened to whole
// ticks. `whole` keeps ticks on integers (steps).
Axis nice_axis(double lo, double hi, int target, bool whole) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double ratio = raw / magnitude;
  double step = (ratio < 1.5 ? 1 : ratio < 3 ? 2 : ratio < 7 ? 5 : 10) * magnitude;
  if (whole) step = std::max(step, 1.0);
  Axis axis;
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  axis.lo = first * step;
  axis.hi = last * step;
  for (double i = first; i <= last + 0.5; i += 1) axis.ticks.push_back(i * step);
  return axis;
}

double scale(double value, const Axis& axis, double from, double to) {
  return from + (value - axis.lo) / (axis.hi - axis.lo) * (to - from);
}

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// 950, 12.5K, 3.4M, 1.2B
std::string short_count(double value) {
  const char* suffixes[] = {"", "K", "M", "B", "T"};
  int i = 0;
  while (std::abs(value) >= 1000 && i < 4) {
    value /= 1000;
    ++i;
  }
  return fmt::format("{:.3g}{}", value, suffixes[i]);
}

// Tokens seen by the end of `step`: interpolated between logged entries (the count grows by
// the same amount every step, so this is exact wherever the run logged).
double tokens_at(const std::vector<TrainPoint>& train, double step) {
  double prev_step = 0;
  double prev_tokens = 0;
  for (const TrainPoint& point : train) {
    if (static_cast<double>(point.step) >= step) {
      const double span = static_cast<double>(point.step) - prev_step;
      const double f = span > 0 ? (step - prev_step) / span : 1;
      return prev_tokens + f * (static_cast<double>(point.tokens) - prev_tokens);
    }
    prev_step = static_cast<double>(point.step);
    prev_tokens = static_cast<double>(point.tokens);
  }
  // Past the last entry: at that entry's tokens per step.
  return prev_step > 0 ? prev_tokens / prev_step * step : 0;
}

void polyline(std::string& svg, const char* series, const char* color, const std::vector<std::pair<double, double>>& points) {
  if (points.empty()) return;
  std::string coordinates;
  for (const auto& [x, y] : points) coordinates += fmt::format("{}{:.2f},{:.2f}", coordinates.empty() ? "" : " ", x, y);
  svg += fmt::format(R"(<polyline data-series="{}" fill="none" stroke="{}" stroke-width="1.6" stroke-linejoin="round" points="{}"/>)"
                     "\n",
                     series, color, coordinates);
}

void horizontal_grid(std::string& svg, const Axis& axis, double top, double bottom, const char* label_format) {
  for (double tick : axis.ticks) {
    const double y = scale(tick, axis, bottom, top);
    svg += fmt::format(R"(<line x1="{:.2f}" y1="{:.2f}" x2="{:.2f}" y2="{:.2f}" stroke="{}"/>)" "\n", kLeft, y, kRight, y, kGridColor);
    svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" text-anchor="end" dominant-baseline="middle">{}</text>)" "\n",
                       kLeft - 6, y, fmt::format(fmt::runtime(label_format), tick));
  }
}

}  // namespace

std::string render_loss_plot(const MetricsSeries& series, const std::string& title) {
  double max_step = 1;
  double loss_lo = INFINITY;
  double loss_hi = -INFINITY;
  double lr_hi = 0;
  for (const TrainPoint& p : series.train) {
    max_step = std::max(max_step, static_cast<double>(p.step));
    loss_lo = std::min(loss_lo, p.loss);
    loss_hi = std::max(loss_hi, p.loss);
    lr_hi = std::max(lr_hi, p.learning_rate);
  }
  for (const ValidationPoint& p : series.validation) {
    max_step = std::max(max_step, static_cast<double>(p.step));
    loss_lo = std::min(loss_lo, p.loss);
    loss_hi = std::max(loss_hi, p.loss);
  }
  if (!std::isfinite(loss_lo)) loss_lo = loss_hi = 0;
  const Axis steps = nice_axis(0, max_step, 8, true);
  const Axis loss = nice_axis(loss_lo, loss_hi, 6, false);
  const Axis lr = nice_axis(0, lr_hi > 0 ? lr_hi : 1, 3, false);
  auto x_of = [&](double step) { return scale(step, steps, kLeft, kRight); };

  std::string svg = fmt::format(
      R"(<?xml version="1.0" encoding="UTF-8"?>)" "\n"
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
      R"(font-family="sans-serif" font-size="12" fill="#222">)" "\n"
      "<title>{2}</title>\n"
      R"(<rect width="{0}" height="{1}" fill="#ffffff"/>)" "\n"
      R"(<text x="{3}" y="22" font-size="15" font-weight="bold">{2}</text>)" "\n",
      kWidth, kHeight, escape_xml(title), kLeft);

  // Step grid across both panels; step labels below, token labels above the loss panel.
  const bool have_tokens = !series.train.empty();
  for (double tick : steps.ticks) {
    const double x = x_of(tick);
    for (auto [top, bottom] : {std::pair{kLossTop, kLossBottom}, std::pair{kLrTop, kLrBottom}}) {
      svg += fmt::format(R"(<line x1="{:.2f}" y1="{:.2f}" x2="{:.2f}" y2="{:.2f}" stroke="{}"/>)" "\n", x, top, x, bottom, kGridColor);
    }
    svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" text-anchor="middle">{}</text>)" "\n", x, kLrBottom + 16,
                       short_count(tick));
    if (have_tokens) {
      svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" text-anchor="middle" fill="#666">{}</text>)" "\n", x,
                         kLossTop - 8, short_count(tokens_at(series.train, tick)));
    }
  }
  svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" text-anchor="middle">step</text>)" "\n", (kLeft + kRight) / 2, kLrBottom + 40);
  if (have_tokens) {
    svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" text-anchor="middle" fill="#666">tokens</text>)" "\n",
                       (kLeft + kRight) / 2, kLossTop - 26);
  }
  horizontal_grid(svg, loss, kLossTop, kLossBottom, "{:g}");
  horizontal_grid(svg, lr, kLrTop, kLrBottom, "{:.2g}");
  for (auto [top, bottom, name] : {std::tuple{kLossTop, kLossBottom, "loss"}, std::tuple{kLrTop, kLrBottom, "learning rate"}}) {
    svg += fmt::format(R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="none" stroke="#888"/>)" "\n",
                       kLeft, top, kRight - kLeft, bottom - top);
    svg += fmt::format(R"svg(<text transform="translate(18 {:.2f}) rotate(-90)" text-anchor="middle">{}</text>)svg" "\n",
                       (top + bottom) / 2, name);
  }

  std::vector<std::pair<double, double>> train_points;
  std::vector<std::pair<double, double>> lr_points;
  for (const TrainPoint& p : series.train) {
    train_points.emplace_back(x_of(static_cast<double>(p.step)), scale(p.loss, loss, kLossBottom, kLossTop));
    lr_points.emplace_back(x_of(static_cast<double>(p.step)), scale(p.learning_rate, lr, kLrBottom, kLrTop));
  }
  std::vector<std::pair<double, double>> validation_points;
  for (const ValidationPoint& p : series.validation) {
    validation_points.emplace_back(x_of(static_cast<double>(p.step)), scale(p.loss, loss, kLossBottom, kLossTop));
  }
  polyline(svg, "train_loss", kTrainColor, train_points);
  polyline(svg, "validation_loss", kValidationColor, validation_points);
  for (const auto& [x, y] : validation_points) {
    svg += fmt::format(R"(<circle cx="{:.2f}" cy="{:.2f}" r="2.5" fill="{}"/>)" "\n", x, y, kValidationColor);
  }
  polyline(svg, "learning_rate", kLrColor, lr_points);

  // Legend, with the last values.
  std::vector<std::pair<const char*, std::string>> legend;
  if (!series.train.empty()) {
    legend.emplace_back(kTrainColor, fmt::format("train loss (last {:.4f})", series.train.back().loss));
  }
  if (!series.validation.empty()) {
    const auto best = std::min_element(series.validation.begin(), series.validation.end(),
                                       [](const ValidationPoint& a, const ValidationPoint& b) { return a.loss < b.loss; });
    legend.emplace_back(kValidationColor, fmt::format("validation loss (last {:.4f}, best {:.4f} at step {})",
                                                      series.validation.back().loss, best->loss, best->step));
  }
  if (!series.train.empty()) legend.emplace_back(kLrColor, "learning rate");
  double legend_y = kLossTop + 18;
  for (const auto& [color, text] : legend) {
    svg += fmt::format(R"(<line x1="{:.2f}" y1="{:.2f}" x2="{:.2f}" y2="{:.2f}" stroke="{}" stroke-width="3"/>)" "\n",
                       kRight - 330, legend_y, kRight - 310, legend_y, color);
    svg += fmt::format(R"(<text x="{:.2f}" y="{:.2f}" dominant-baseline="middle">{}</text>)" "\n", kRight - 304, legend_y,
                       escape_xml(text));
    legend_y += 18;
  }
  svg += "</svg>\n";
  return svg;
}

MetricsSeries write_loss_plot(const fs::path& output_dir) {
  const fs::path metrics = output_dir / "metrics.jsonl";
  std::error_code error;
  if (!fs::is_regular_file(metrics, error)) {
    throw UserError(output_dir.string() + " has no metrics.jsonl: give the --output-dir of a utt train run");
  }
  const MetricsSeries series = read_metrics_series(metrics);
  if (series.train.empty() && series.validation.empty()) {
    throw UserError(metrics.string() + " holds no logged steps yet: plot again after the run's first log line "
                    "(every --log-every steps)");
  }
  const fs::path absolute = fs::absolute(output_dir, error);
  const std::string name = (absolute.filename().empty() ? absolute.parent_path() : absolute).filename().string();
  const fs::path plot = output_dir / kLossPlotName;
  write_file_atomic(plot, render_loss_plot(series, "utt training run: " + name));
  return series;
}

}  // namespace utt
