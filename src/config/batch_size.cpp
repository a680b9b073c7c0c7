#include "config/batch_size.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include "config/memory_estimate.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {

int64_t default_effective_batch_tokens(const ModelConfig& model) {
  const double parameters = static_cast<double>(count_parameters(model).total);
  const double compute = 6 * parameters * 20 * parameters;
  const double tokens = 0.292 * std::pow(compute, 0.3271);
  int64_t power = 1;
  while (static_cast<double>(power) * 2 <= tokens) power *= 2;
  return std::max(power, model.seq_len);
}

namespace {

// `rows` per step in micro-batches of at most `largest`: the fewest accumulation steps, the rows
// spread evenly over them (so never fewer rows than asked).
BatchSplit spread_rows(int64_t rows, int64_t largest) {
  BatchSplit spread;
  spread.accumulation = (rows + largest - 1) / largest;
  spread.micro_batch = (rows + spread.accumulation - 1) / spread.accumulation;
  return spread;
}

}  // namespace

BatchChoice choose_batch_size(const ModelConfig& model, int64_t target_tokens, double memory_bytes,
                              bool mixed_precision, int64_t ranks, const std::string& device) {
  BatchChoice choice;
  choice.target_tokens = target_tokens;
  choice.memory_bytes = memory_bytes;
  const int64_t rows_per_rank = std::max<int64_t>(
      1, (target_tokens + model.seq_len * ranks - 1) / (model.seq_len * ranks));
  const double usable = kAutoBatchMemoryShare * memory_bytes;
  const auto fits = [&](int64_t rows) {
    return estimate_training_memory(model, rows, mixed_precision).total_bytes() <= usable;
  };
  if (!fits(1)) {
    throw UserError(fmt::format("--batch-size auto: not even one row of {} tokens fits: training this model "
                                "needs ~{} with batch 1, and {} has {} free; choose a smaller model{}",
                                model.seq_len,
                                human_bytes(estimate_training_memory(model, 1, mixed_precision).total_bytes()),
                                device, human_bytes(memory_bytes),
                                mixed_precision ? "" : " or add --use-mixed-precision"));
  }
  // The largest fitting micro-batch up to the rows needed: doubling, then a binary search.
  int64_t low = 1, high = 1;
  while (high < rows_per_rank && fits(std::min(high * 2, rows_per_rank))) high = std::min(high * 2, rows_per_rank);
  low = high;
  if (high < rows_per_rank) {
    int64_t top = std::min(high * 2, rows_per_rank);  // does not fit
    while (top - low > 1) {
      const int64_t middle = (low + top) / 2;
      (fits(middle) ? low : top) = middle;
    }
  }
  choice.largest_fitting = low;
  const BatchSplit spread = spread_rows(rows_per_rank, low);
  choice.micro_batch = spread.micro_batch;
  choice.accumulation = spread.accumulation;
  const int64_t tokens = choice.micro_batch * choice.accumulation * ranks * model.seq_len;
  choice.reason = fmt::format(
      "Batch: auto: {} rows x {} accumulation step{}{} = {} tokens per step (target {}); {} rows fit in {} of "
      "{}'s {} free (estimate {})",
      choice.micro_batch, choice.accumulation, choice.accumulation == 1 ? "" : "s",
      ranks > 1 ? fmt::format(" x {} ranks", ranks) : "", with_thousands(tokens), with_thousands(target_tokens),
      choice.micro_batch, fmt::format("{:.0f}%", 100 * kAutoBatchMemoryShare), device, human_bytes(memory_bytes),
      human_bytes(estimate_training_memory(model, choice.micro_batch, mixed_precision).total_bytes()));
  if (choice.largest_fitting >= rows_per_rank) {
    choice.reason += "; the target needs no more rows";
  } else {
    choice.reason += fmt::format("; at most {} would fit", choice.largest_fitting);
  }
  return choice;
}

std::optional<BatchSplit> halve_micro_batch(int64_t micro_batch, int64_t accumulation) {
  if (micro_batch <= 1) return std::nullopt;
  return spread_rows(micro_batch * accumulation, micro_batch / 2);
}

namespace {

// The first number in a file, or -1 when it is missing or holds none ("max": no limit).
double read_bytes(const std::string& path) {
  std::ifstream file(path);
  std::string text;
  if (!(file >> text) || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return -1;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return -1;
  }
}

// Least limit-minus-usage over `directory` and its parents up to `top`; -1 when none is limited.
// A v1 "unlimited" is the largest page-aligned int64, far above any real memory.
double least_headroom(std::string directory, const std::string& top, const char* limit_file,
                      const char* usage_file) {
  constexpr double kUnlimited = 1e18;
  double least = -1;
  while (true) {
    const double limit = read_bytes(directory + "/" + limit_file);
    const double usage = read_bytes(directory + "/" + usage_file);
    if (limit >= 0 && limit < kUnlimited && usage >= 0) {
      const double headroom = std::max(0.0, limit - usage);
      least = least < 0 ? headroom : std::min(least, headroom);
    }
    if (directory.size() <= top.size()) break;
    const size_t slash = directory.find_last_of('/');
    if (slash == std::string::npos || slash < top.size()) break;
    directory.resize(slash);
  }
  return least;
}

}  // namespace

double cgroup_memory_headroom_bytes(const std::string& proc_self_cgroup, const std::string& cgroup_root) {
  double least = -1;
  auto take = [&least](double headroom) {
    if (headroom >= 0) least = least < 0 ? headroom : std::min(least, headroom);
  };
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // hierarchy-id:controllers:path; v2 is "0::/path", v1's memory controller "N:memory:/path".
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (!path.empty() && path.back() == '/') path.pop_back();
    if (path.find("..") != std::string::npos) continue;
    if (controllers.empty()) {
      // Outside a container the path names the process's group below the mount; in one, the
      // namespace's root is the mount's root. The walk up reaches the mount's root either way,
      // and a directory that is missing reads as no limit.
      take(least_headroom(cgroup_root + path, cgroup_root, "memory.max", "memory.current"));
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      const std::string mount = cgroup_root + "/memory";
      take(least_headroom(mount + path, mount, "memory.limit_in_bytes", "memory.usage_in_bytes"));
    }
  }
  return least;
}

FreeMemory available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  double kib = 0, available = 0;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
  }
  std::ifstream cgroup_file("/proc/self/cgroup");
  const std::string cgroup((std::istreambuf_iterator<char>(cgroup_file)), std::istreambuf_iterator<char>());
  const double headroom = cgroup_memory_headroom_bytes(cgroup, "/sys/fs/cgroup");
  if (headroom >= 0 && (available <= 0 || headroom < available)) return {headroom, "the cgroup memory limit"};
  return {available, "this machine"};
}

}  // namespace utt
