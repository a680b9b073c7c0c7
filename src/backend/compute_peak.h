// The peak FLOP/s a run's MFU (model FLOPs utilization) is measured against: on the CPU this
// machine's measured fp32 multiply-add rate, on a GPU the vendor's dense tensor-core figure for
// the device and the precision of the matmuls; --peak-tflops overrides both.
#pragma once

#include <optional>
#include <string>

namespace utt {

enum class MatmulPrecision { kFp32, kTf32, kBf16 };

struct ComputePeak {
  double flops_per_second = 0;  // of the whole process (every thread, or the one GPU); 0: unknown
  std::string source;           // for the banner: how it was found
};

// Dense TFLOP/s of one GPU at `precision`, from the table in compute_peak.cpp, matched on the
// words of its CUDA name ("NVIDIA H100 80GB HBM3"); nullopt for a GPU the table lacks.
std::optional<double> gpu_peak_tflops(const std::string& device_name, MatmulPrecision precision);

// The GPU's peak, or a line saying there is none in the table (and that --peak-tflops sets it).
ComputePeak gpu_compute_peak(const std::string& device_name, MatmulPrecision precision);

// The CPU's: one core's fp32 FMA rate (the widest vector FMA it has, in a register-only loop)
// times `threads`. Measured once per CPU model and kept in `cache_file` (a small JSON map from
// the model's name to GFLOP/s per core; empty: not kept), so start-up pays the ~0.1 s of the
// measurement once per machine type.
ComputePeak cpu_compute_peak(int threads, const std::string& cache_file);

// The peak of the backend a run trains on, made by make_backend: the CPU's over the threads the
// CPU backend runs, or the first visible GPU's; `override_tflops` (--peak-tflops) is one
// device's and wins.
ComputePeak run_compute_peak(bool cuda, MatmulPrecision precision, std::optional<double> override_tflops);

// $UTT_CACHE_DIR/cpu_peaks.json, else $XDG_CACHE_HOME/utt/cpu_peaks.json, else
// ~/.cache/utt/cpu_peaks.json.
std::string default_cpu_peak_cache();

}  // namespace utt
