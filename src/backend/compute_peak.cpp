#include "backend/compute_peak.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>
#include <vector>

#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/onednn_matmul.h"
#include "backend/cpu/fma_peak.h"
#include "backend/cpu/ops.h"
#include "backend/device.h"

namespace utt {
namespace {

// Dense (no structured sparsity) TFLOP/s from the vendors' data sheets: fp32 on the CUDA cores,
// tf32 and bf16 (fp32 accumulation) on the tensor cores. A name matches when every word of
// `words` is a word of the device's name; the first match counts, so the specific rows (PCIe,
// NVL) come before the plain one.
struct GpuPeakRow {
  std::vector<std::string> words;
  double fp32 = 0;
  double tf32 = 0;
  double bf16 = 0;
};

const std::vector<GpuPeakRow>& gpu_peak_table() {
  static const std::vector<GpuPeakRow> table = {
      {{"H200", "NVL"}, 60, 418, 835},
      {{"H200"}, 67, 495, 989},  // SXM
      {{"GH200"}, 67, 495, 989},
      {{"H100", "NVL"}, 60, 418, 835},
      {{"H100", "PCIe"}, 51, 378, 756},
      {{"H100"}, 67, 495, 989},  // SXM
      {{"A100"}, 19.5, 156, 312},
      {{"L40S"}, 91.6, 183, 362},
      {{"L40"}, 90.5, 90.5, 181},
      {{"L4"}, 30.3, 60, 121},
      {{"A10"}, 31.2, 62.5, 125},
      {{"RTX", "4090"}, 82.6, 82.6, 165},
  };
  return table;
}

std::vector<std::string> upper_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text + " ") {
    if (ch == ' ' || ch == '-' || ch == '_') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
  }
  return words;
}

const char* precision_name(MatmulPrecision precision) {
  switch (precision) {
    case MatmulPrecision::kFp32: return "fp32";
    case MatmulPrecision::kTf32: return "tf32";
    case MatmulPrecision::kBf16: return "bf16";
  }
  return "?";
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

nlohmann::json read_cache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  const nlohmann::json cache = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return cache.is_object() ? cache : nlohmann::json::object();  // a damaged file is measured anew
}

// Best effort: a cache that cannot be written only costs the next run the measurement again.
void write_cache(const std::string& path, const nlohmann::json& cache) {
  std::error_code error;
  const std::filesystem::path target(path);
  std::filesystem::create_directories(target.parent_path(), error);
  const std::filesystem::path staged = target.string() + fmt::format(".tmp{}", ::getpid());
  {
    std::ofstream out(staged);
    if (!out) return;
    out << cache.dump(2) << "\n";
    if (!out) return;
  }
  std::filesystem::rename(staged, target, error);
  if (error) std::filesystem::remove(staged, error);
}

}  // namespace

std::optional<double> gpu_peak_tflops(const std::string& device_name, MatmulPrecision precision) {
  const std::vector<std::string> name = upper_words(device_name);
  for (const GpuPeakRow& row : gpu_peak_table()) {
    const bool match = std::all_of(row.words.begin(), row.words.end(), [&](const std::string& word) {
      return std::find(name.begin(), name.end(), upper_words(word).front()) != name.end();
    });
    if (!match) continue;
    switch (precision) {
      case MatmulPrecision::kFp32: return row.fp32;
      case MatmulPrecision::kTf32: return row.tf32;
      case MatmulPrecision::kBf16: return row.bf16;
    }
  }
  return std::nullopt;
}

ComputePeak gpu_compute_peak(const std::string& device_name, MatmulPrecision precision) {
  const std::optional<double> tflops = gpu_peak_tflops(device_name, precision);
  if (!tflops) {
    return {0, fmt::format("{} is not in utt's table of GPU peaks: no MFU (--peak-tflops sets the peak)", device_name)};
  }
  return {*tflops * 1e12, fmt::format("{} {} dense, from the data sheet", device_name, precision_name(precision))};
}

ComputePeak cpu_compute_peak(int threads, const std::string& cache_file) {
  const FmaPeak instruction = widest_fma();
  if (instruction.flops_per_instruction == 0) {
    return {0, "this CPU has no vector FMA utt measures: no MFU (--peak-tflops sets the peak)"};
  }
  const std::string key = cpu_model_name() + " / " + instruction.name;
  nlohmann::json cache = cache_file.empty() ? nlohmann::json::object() : read_cache(cache_file);
  double per_core = 0;
  std::string how = "cached in " + cache_file;
  if (cache.contains(key) && cache[key].is_number() && cache[key].get<double>() > 0) {
    per_core = cache[key].get<double>() * 1e9;
  } else {
    per_core = measure_fma_flops_per_second(instruction);
    how = "measured now";
    if (!cache_file.empty()) {
      cache[key] = per_core / 1e9;
      write_cache(cache_file, cache);
    }
  }
  return {per_core * threads,
          fmt::format("{} thread{} x {:.1f} GFLOP/s ({}, fp32, {})", threads, threads == 1 ? "" : "s",
                      per_core / 1e9, instruction.name, how)};
}

ComputePeak run_compute_peak(bool cuda, MatmulPrecision precision, std::optional<double> override_tflops) {
  if (override_tflops) return {*override_tflops * 1e12, fmt::format("--peak-tflops {}", *override_tflops)};
  if (!cuda) {
    ComputePeak peak = cpu_compute_peak(cpu::thread_count(), default_cpu_peak_cache());
    // bf16 matmuls on vdpbf16ps run at its rate, not the FMA's (backend/cpu/bf16_matmul.h).
    if (precision == MatmulPrecision::kBf16) {
      const cpu::Bf16KernelChoice& bf16 = cpu::bf16_kernel_choice();
      if (bf16.kernel == cpu::Bf16Kernel::kOneDnn && cpu::onednn_uses_amx()) {
        // Tile multiplies have a peak of their own, which utt does not measure.
        return {0, "bf16 on AMX tiles, whose peak utt does not measure: no MFU (--peak-tflops gives one)"};
      }
      if ((bf16.kernel == cpu::Bf16Kernel::kDotProduct || bf16.kernel == cpu::Bf16Kernel::kOneDnn) &&
          bf16.dot_product_ratio > 0) {
        peak.flops_per_second *= bf16.dot_product_ratio;
        peak.source += fmt::format("; bf16 on vdpbf16ps at {:.2f}x that", bf16.dot_product_ratio);
      }
    }
    return peak;
  }
  const CudaStatus status = query_cuda();
  if (status.gpus.empty()) return {0, "no GPU visible: no MFU"};
  return gpu_compute_peak(status.gpus.front().name, precision);
}

std::string default_cpu_peak_cache() {
  if (const char* dir = std::getenv("UTT_CACHE_DIR"); dir && *dir) return std::string(dir) + "/cpu_peaks.json";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/utt/cpu_peaks.json";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/utt/cpu_peaks.json";
  return "";
}

}  // namespace utt
