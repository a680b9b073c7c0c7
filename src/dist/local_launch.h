// `utt train --num-devices N` on one machine: the N worker processes are started through
// mpirun (OpenMPI's launcher, which also lets them find each other as MPI ranks) running this
// same program with the same arguments. The launcher waits for them, passes their output
// through, and when the job fails says which worker failed and how.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace utt {

// mpirun on PATH, else the one found when utt was built; nullopt when there is none.
std::optional<std::string> find_mpirun();

// The command that starts the workers: mpirun, its options, this program and `args`.
std::vector<std::string> worker_command(const std::string& mpirun, int workers, const std::string& program,
                                        const std::vector<std::string>& args);

// What mpirun's report says about the worker that ended the job ("worker rank 1 was killed
// by signal 9 (Killed)"); empty when the report names none.
std::string describe_failed_worker(const std::string& mpirun_output);

// A job's rank 0, stopped by a signal after saving a checkpoint, writes one line to stderr
// that starts with this ("... 84 by SIGTERM; saved DIR"): the launcher reads it to tell a
// clean stop from a failure when mpirun, signalled itself, exits with 1.
inline constexpr const char* kStopLinePrefix = "utt: training stopped after step ";

// The exit code of a clean stop (130 for SIGINT, 143 otherwise) when `output` has rank 0's
// stop line; nullopt when it has none.
std::optional<int> clean_stop_code(const std::string& output);

// The variable through which the launcher tells its workers when it started (nanoseconds of
// the system clock since 1970): a --time-budget counts the workers' start-up too.
inline constexpr const char* kLaunchTimeVariable = "UTT_LAUNCHED_AT_NS";

// Seconds since the launcher that started this process did, from kLaunchTimeVariable; 0 when
// it is not set or makes no sense (in the future, or more than an hour ago).
double seconds_since_launch();

// Starts `workers` ranks of `utt <args>` and waits for them. SIGTERM to the launcher is passed
// on to every worker (which then stop after the same step, rank 0 saving a checkpoint).
// Returns 0 when every worker succeeded, 130/143 when they stopped cleanly on a signal;
// otherwise prints a line naming the worker that failed and returns a non-zero code (the
// failing worker's, where it is known).
int run_local_workers(int workers, const std::vector<std::string>& args);

}  // namespace utt
