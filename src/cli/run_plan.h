// What `utt train` will do, resolved from its configuration before anything runs: the
// model, the device, the dataset and the features this build cannot provide yet. The dry run
// prints it; a real run acts on it.
#pragma once

#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "backend/device.h"
#include "config/batch_size.h"
#include "config/train_config.h"
#include "dist/communicator.h"
#include "dist/launch_environment.h"
#include "train/output_dir.h"

namespace utt {

struct DevicePlan {
  BackendKind kind = BackendKind::kCpu;  // what make_backend builds for the run
  std::string backend;  // "CPU" or "GPU"
  std::string devices;  // "1x cpu (2 threads)", "1x NVIDIA H100 (79.2 GiB)", "2x NVIDIA H100"
  std::string note;     // the guide's banner line under it
};

// How many data-parallel ranks train, who starts them, and the batch they make together.
struct DataParallelPlan {
  int64_t ranks = 1;        // the world
  int64_t local_ranks = 1;  // on this machine (they split its cores)
  // "" (one process), "utt" (--num-devices N: utt starts the workers through mpirun), or the
  // launcher that started this process: "mpirun", "srun".
  std::string launcher;
  int64_t rank = 0;  // this process's, under a launcher
  int64_t local_rank = 0;  // among this machine's ranks: the GPU it trains on with --device cuda
  int64_t threads_per_rank = 1;
  // --batch-size, and per optimizer step batch x accumulation x ranks; 0 for a new --time-budget
  // run with --batch-size auto, whose plan chooses the batch with the model.
  int64_t batch_per_device = 1;
  int64_t effective_batch = 1;
};

// The guide's lines for several devices ("✓ Data parallelism across 4 GPUs", "Effective batch
// size: 128 (32 per device)"); empty for one.
std::string data_parallel_banner(const DataParallelPlan& parallel, const std::string& backend);

struct RunPlan {
  TrainConfig config;
  ResolvedModel model;
  DevicePlan device;
  DataParallelPlan parallel;
  std::string dataset;  // one line describing where the text comes from
  OutputDirState output;              // what --output-dir holds now
  std::optional<ResumePoint> resume;  // --resume-from, resolved and read
  std::string batch_note;             // --batch-size auto: what it chose and why
  FreeMemory memory;  // what --batch-size auto and --time-budget plan with (only they read it)
  // --resume-from s3://, gs:// or az://: downloaded (and then checked as above) when the run
  // starts, not by the plan.
  std::string cloud_resume;
  // With --cloud-provider: where checkpoints go ("s3://bucket/prefix"); the credentials were
  // found (not yet tried: the run does that before step 1).
  std::string cloud_target;
  // A dry run's note when the credentials for it are missing (a real run is refused).
  std::string cloud_problem;
};

// Validates and resolves; throws UserError for any impossible request, including a
// --resume-from that names no usable checkpoint and an output directory the run may not use
// (train/output_dir.h). Writes nothing.
// `ranks`: the job, when this process is one of its ranks: every rank plans --batch-size auto
// with the least memory any of them has, so that all choose the same batch (a collective: every
// rank calls plan_run).
RunPlan plan_run(const TrainConfig& config, Communicator* ranks = nullptr);

// The ranks of this run: --num-devices, or the launcher's (`launch`). Throws UserError for
// --num-devices that contradicts the launcher, or several ranks without MPI or mpirun.
DataParallelPlan plan_data_parallel(const TrainConfig& config, const LaunchEnvironment& launch);

// The device a run uses, given what CUDA offers (plan_run passes query_cuda()). Throws
// UserError for --device cuda without a visible GPU.
DevicePlan plan_device(const TrainConfig& config, const CudaStatus& cuda);

void print_dry_run(const RunPlan& plan);

}  // namespace utt
