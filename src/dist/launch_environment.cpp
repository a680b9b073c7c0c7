#include "dist/launch_environment.h"

#include <cstdlib>
#include <optional>

#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

std::optional<int> read_int(const GetEnv& getenv, const char* name) {
  const char* value = getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string what = std::string("the launcher's variable ") + name;
  const int64_t parsed = parse_int(value, what);
  if (parsed < 0 || parsed > (1 << 24)) {
    throw UserError(std::string("the launcher's variable ") + name + "=" + value +
                    " is not a rank or a count: start utt with mpirun or srun unchanged");
  }
  return static_cast<int>(parsed);
}

// SLURM_STEP_TASKS_PER_NODE reads "2(x3),1": this node's count is the first number when the
// tasks are spread evenly, which is what a training job asks for.
std::optional<int> slurm_tasks_on_this_node(const GetEnv& getenv) {
  const char* value = getenv("SLURM_STEP_TASKS_PER_NODE");
  if (value == nullptr) return std::nullopt;
  int count = 0;
  for (const char* p = value; *p >= '0' && *p <= '9'; ++p) count = count * 10 + (*p - '0');
  return count > 0 ? std::optional<int>(count) : std::nullopt;
}

}  // namespace

LaunchEnvironment detect_launch_environment(const GetEnv& getenv) {
  LaunchEnvironment env;
  if (const std::optional<int> world = read_int(getenv, "OMPI_COMM_WORLD_SIZE")) {
    env.launcher = "mpirun";
    env.world_size = *world;
    env.rank = read_int(getenv, "OMPI_COMM_WORLD_RANK").value_or(0);
    env.local_rank = read_int(getenv, "OMPI_COMM_WORLD_LOCAL_RANK").value_or(0);
    env.local_size = read_int(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE").value_or(1);
  } else if (getenv("SLURM_STEP_NUM_TASKS") != nullptr && getenv("SLURM_PROCID") != nullptr &&
             (getenv("PMIX_RANK") != nullptr || getenv("PMI_RANK") != nullptr)) {
    // A task of `srun --mpi=pmix` (or pmi2). A batch script itself also sees SLURM_PROCID, but
    // no process-manager interface: it runs as one process.
    env.launcher = "srun";
    env.world_size = read_int(getenv, "SLURM_STEP_NUM_TASKS").value_or(1);
    env.rank = read_int(getenv, "SLURM_PROCID").value_or(0);
    env.local_rank = read_int(getenv, "SLURM_LOCALID").value_or(0);
    env.local_size = slurm_tasks_on_this_node(getenv).value_or(1);
  } else {
    return env;
  }
  if (env.world_size < 1 || env.rank >= env.world_size || env.local_size < 1 || env.local_rank >= env.local_size) {
    throw UserError("the launcher's variables do not describe a rank (" + env.launcher + ": rank " +
                    std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ", local rank " +
                    std::to_string(env.local_rank) + " of " + std::to_string(env.local_size) +
                    "): start utt with mpirun or srun unchanged");
  }
  return env;
}

LaunchEnvironment detect_launch_environment() {
  return detect_launch_environment([](const char* name) { return std::getenv(name); });
}

}  // namespace utt
