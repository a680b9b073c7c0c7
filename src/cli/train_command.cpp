#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/run_plan.h"
#include "cli/train_flags.h"
#include "dist/communicator.h"
#include "dist/launch_environment.h"
#include "dist/local_launch.h"
#include "export/init_source.h"
#include "train/stop_signal.h"
#include "train/training_run.h"
#include "util/error.h"

namespace utt {
namespace {

TrainingRunInputs training_inputs(const RunPlan& plan, const std::vector<std::string>& args) {
  const TrainConfig& config = plan.config;
  TrainingRunInputs inputs;
  inputs.config = config;
  // The tokenizer comes with the model it starts from.
  if (config.init_from) inputs.config.tokenizer_path = init_tokenizer_path(*config.init_from).string();
  // Ranks sharing a machine split its cores.
  inputs.config.threads = plan.parallel.ranks > 1 ? plan.parallel.threads_per_rank : config.threads;
  inputs.model = plan.model.config;
  inputs.resume_command = resume_command(args);
  TrainConfig resolved = config;  // the summary shows the dimensions and batch the run really used
  resolved.model = plan.model.config;
  resolved.batch_size_auto = false;
  inputs.configuration = flags_to_json(resolved);
  inputs.backend = plan.device.kind;
  inputs.device = static_cast<int>(plan.parallel.local_rank);
  inputs.memory = plan.memory;
  inputs.device_banner = "Backend: " + plan.device.backend + "\nDevices: " + plan.device.devices + "\n";
  if (const std::string lines = data_parallel_banner(plan.parallel, plan.device.backend); !lines.empty()) {
    inputs.device_banner += lines + "\n";
  }
  inputs.device_banner += plan.device.note;
  inputs.batch_note = plan.batch_note;
  return inputs;
}

// MPI_Init waits for every rank of the job: one that hung, was stopped or never started would
// keep this one waiting for ever. After `seconds` the watchdog gives up and exits, which makes
// mpirun stop the others.
class StartWatchdog {
 public:
  StartWatchdog(int rank, double seconds)
      : thread_([this, rank, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (cancelled_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) return;
          std::fprintf(stderr, "utt: error: rank %d: the job's other ranks did not all join it within %g s (MPI's "
                       "start waits for every rank): one of them hung, was stopped or did not start; stopping the "
                       "job; --rank-timeout sets how long ranks wait\n", rank, seconds);
          std::fflush(stderr);
          std::_Exit(kExitUserError);
        }) {}
  ~StartWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cancelled_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cancelled_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

std::unique_ptr<Communicator> start_mpi_within(double seconds) {
  const StartWatchdog watchdog(detect_launch_environment().rank, seconds);
  return make_mpi_communicator();
}

// One rank of a job that mpirun or srun started (or `--num-devices N` through mpirun). Every
// rank plans and checks the run; rank 0 alone prints (the others' standard output is
// discarded) and writes. An error on any rank ends every rank: a rank that stopped alone would
// leave the others waiting for it.
int run_train_rank(const TrainConfig& config, const std::vector<std::string>& args) {
  const auto started = std::chrono::steady_clock::now() -
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(seconds_since_launch()));
  // A signal from the start on: a stop requested during the set-up ends the run after its
  // first step, with a checkpoint, as one during training does.
  install_stop_handlers();
  const std::unique_ptr<Communicator> mpi = start_mpi_within(config.rank_timeout);
  std::unique_ptr<Communicator> gpu_ranks;  // over `mpi`, when the backend is CUDA
  Communicator* ranks = mpi.get();
  const int rank = ranks->rank();
  const std::string who = rank == 0 ? "" : fmt::format("rank {}: ", rank);
  if (rank != 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
  }
  std::string message;
  int code = kExitUserError;
  try {
    const LaunchEnvironment launch = detect_launch_environment();
    if (ranks->world_size() != launch.world_size) {
      throw UserError(fmt::format("{} says {} ranks but MPI sees {}: the mpirun that started utt belongs to another "
                                  "MPI than the one utt was built with (use OpenMPI's mpirun)",
                                  launch.launcher, launch.world_size, ranks->world_size()));
    }
    ranks->set_timeout(config.rank_timeout);  // the plan's agreement on memory waits for every rank
    const RunPlan plan = plan_run(config, ranks);
    TrainingRunInputs inputs = training_inputs(plan, args);
    inputs.started = started;
    if (plan.device.kind == BackendKind::kCuda) {
      // One GPU per rank, numbered by the rank's place on its machine; sums of GPU memory
      // through NCCL.
      inputs.device = launch.local_rank;
      gpu_ranks = make_nccl_communicator(*mpi, launch.local_rank);
      ranks = gpu_ranks.get();
    }
    return run_training(inputs, *ranks);
  } catch (const UserError& error) {
    message = "utt: error: " + who + error.what();
  } catch (const std::exception& error) {
    message = "utt: " + who + error.what();
    code = 3;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  ranks->abort(code);
  return code;  // abort does not return
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  const auto started = std::chrono::steady_clock::now();
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", train_help());
      return 0;
    }
  }
  const TrainConfig config = parse_train_args(args);
  if (detect_launch_environment().world_size > 1 && !config.dry_run) return run_train_rank(config, args);
  const RunPlan plan = plan_run(config);
  if (config.dry_run) {
    print_dry_run(plan);
    return 0;
  }
  if (plan.parallel.launcher == "utt") {
    // Every check a rank would make has passed here once; the workers make them again.
    fmt::print("Starting {} worker processes on this machine (mpirun; {} each)\n", plan.parallel.ranks,
               plan.parallel.threads_per_rank == 1 ? std::string("1 thread")
                                                   : fmt::format("{} threads", plan.parallel.threads_per_rank));
    std::vector<std::string> worker_args = {"train"};
    worker_args.insert(worker_args.end(), args.begin(), args.end());
    return run_local_workers(static_cast<int>(plan.parallel.ranks), worker_args);
  }
  std::unique_ptr<Communicator> ranks = make_single_process_communicator();
  TrainingRunInputs inputs = training_inputs(plan, args);
  inputs.started = started;
  return run_training(inputs, *ranks);
}

}  // namespace utt
