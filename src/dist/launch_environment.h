// Where this process stands in a multi-process job, read from the variables the launchers set:
// mpirun (OMPI_COMM_WORLD_*), srun (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, ...;
// PMIX_RANK or PMI_RANK with --mpi=pmix/pmi2). MPI_Init reads the same variables; this is what
// utt needs before it: whether to start MPI at all, and how many ranks share this machine's cores.
#pragma once

#include <functional>
#include <string>

namespace utt {

struct LaunchEnvironment {
  std::string launcher;  // "mpirun", "srun", or "" when no launcher started this process
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // among the ranks on this machine
  int local_size = 1;  // ranks on this machine: they split its cores

  bool started_by_launcher() const { return !launcher.empty(); }
};

using GetEnv = std::function<const char*(const char*)>;

// Throws UserError when a launcher's variables are present but malformed.
LaunchEnvironment detect_launch_environment(const GetEnv& getenv);
LaunchEnvironment detect_launch_environment();  // the process's environment

}  // namespace utt
