// Where a process stands in a job, from the launchers' variables, and what the local launcher
// makes of mpirun's reports.
#include "dist/launch_environment.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "dist/communicator.h"
#include "dist/local_launch.h"
#include "util/error.h"

namespace utt::test {
namespace {

GetEnv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(LaunchEnvironment, NoLauncherVariablesMeanOneProcess) {
  const LaunchEnvironment env = detect_launch_environment(env_of({{"HOME", "/root"}}));
  EXPECT_FALSE(env.started_by_launcher());
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.local_size, 1);
}

TEST(LaunchEnvironment, MpirunRanksComeFromOmpiCommWorld) {
  const LaunchEnvironment env = detect_launch_environment(env_of({{"OMPI_COMM_WORLD_SIZE", "8"},
                                                                  {"OMPI_COMM_WORLD_RANK", "5"},
                                                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                                  {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                                                  {"PMIX_RANK", "5"}}));
  EXPECT_EQ(env.launcher, "mpirun");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_size, 4);
}

TEST(LaunchEnvironment, SrunTasksWithPmixAreRanks) {
  const LaunchEnvironment env = detect_launch_environment(env_of({{"SLURM_STEP_NUM_TASKS", "8"},
                                                                  {"SLURM_PROCID", "6"},
                                                                  {"SLURM_LOCALID", "2"},
                                                                  {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"},
                                                                  {"PMIX_RANK", "6"}}));
  EXPECT_EQ(env.launcher, "srun");
  EXPECT_EQ(env.rank, 6);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.local_size, 4);
}

TEST(LaunchEnvironment, ABatchScriptWithoutAProcessManagerIsOneProcess) {
  // sbatch sets SLURM_PROCID for the script itself; only srun's tasks have PMIx/PMI.
  const LaunchEnvironment env = detect_launch_environment(
      env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "1"}}));
  EXPECT_FALSE(env.started_by_launcher());
}

TEST(LaunchEnvironment, MalformedVariablesAreRefusedNamingThem) {
  try {
    detect_launch_environment(env_of({{"OMPI_COMM_WORLD_SIZE", "two"}}));
    FAIL() << "accepted";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("OMPI_COMM_WORLD_SIZE"), std::string::npos) << error.what();
  }
  EXPECT_THROW(detect_launch_environment(env_of({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "2"}})),
               UserError);
}

TEST(LocalLaunch, WorkersRunThisProgramUnderMpirunWithTheSameArguments) {
  const std::vector<std::string> command = worker_command("/usr/bin/mpirun", 3, "/opt/utt", {"train", "--seed", "1"});
  const std::vector<std::string> expected = {"/usr/bin/mpirun", "-np", "3", "--oversubscribe", "--bind-to", "none",
                                             "/opt/utt", "train", "--seed", "1"};
  EXPECT_EQ(command, expected);
}

TEST(LocalLaunch, MpirunsReportNamesTheWorkerThatEndedTheJob) {
  // OpenMPI 4.1's words, as mpirun prints them.
  EXPECT_EQ(describe_failed_worker("--------\nmpirun noticed that process rank 1 with PID 4242 on node vm exited on "
                                   "signal 9 (Killed).\n--------\n"),
            "worker rank 1 (on vm) was killed by signal 9 (Killed)");
  EXPECT_EQ(describe_failed_worker("MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD\nwith errorcode 2."),
            "worker rank 0 stopped the job after an error (its message is above)");
  EXPECT_EQ(describe_failed_worker("The first process to do so was:\n\n  Process name: [[5327,1],1]\n  Exit code:    3\n"),
            "worker rank 1 exited with code 3");
  EXPECT_EQ(describe_failed_worker("something else entirely"), "");
}

TEST(SingleProcess, IsAWorldOfOneWhoseCollectivesChangeNothing) {
  const std::unique_ptr<Communicator> one = make_single_process_communicator();
  EXPECT_EQ(one->rank(), 0);
  EXPECT_EQ(one->world_size(), 1);
  float values[3] = {1.5f, -2.0f, 3.25f};
  one->all_reduce_sum(values, 3);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[2], 3.25f);
  double total = 7.0;
  one->all_reduce_sum(&total, 1);
  EXPECT_EQ(total, 7.0);
  EXPECT_TRUE(one->meet(3, 0.001).empty());
  one->barrier();
}

}  // namespace
}  // namespace utt::test
