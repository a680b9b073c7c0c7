#include "dist/local_launch.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>

#include "util/error.h"

namespace utt {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void note_stop_signal(int signal_number) { g_stop_signal = signal_number; }

// mpirun's children: the workers (read from /proc; Linux lists a task's children there).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  const std::string path = "/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children";
  if (std::FILE* file = std::fopen(path.c_str(), "r")) {
    long pid = 0;
    while (std::fscanf(file, "%ld", &pid) == 1) children.push_back(static_cast<pid_t>(pid));
    std::fclose(file);
  }
  return children;
}

// A stop signal goes to the workers themselves, which agree to stop after the same step and
// let rank 0 save a checkpoint. Not to mpirun: it passes SIGTERM on, but kills the workers
// moments later, before they could save.
void stop_workers(pid_t mpirun, int signal_number) {
  const std::vector<pid_t> workers = children_of(mpirun);
  if (workers.empty()) {
    ::kill(mpirun, signal_number);
    return;
  }
  for (pid_t worker : workers) ::kill(worker, signal_number);
}

std::string this_program() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw UserError("cannot find utt's own executable (/proc/self/exe): " + error.message());
  return self.string();
}

// Options given to mpirun as variables, unless the user set them: OpenMPI refuses to run as
// root without both "allow" variables, and its shared-memory transport's single-copy mode
// (process_vm_readv) is denied in many containers, where it crashes the job instead of falling
// back; utt's messages are a few MB per step, which plain shared-memory copies serve.
void set_worker_environment() {
  if (::geteuid() == 0) {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  // When mpirun ends a job (SIGTERM sent to mpirun itself, or a failed rank) it sends the
  // workers SIGCONT, waits this many seconds, sends SIGTERM, waits as long again, then SIGKILL.
  // Its default, 1 s, leaves a worker no time to finish its step and save a checkpoint after
  // SIGTERM to mpirun; much longer delays every failed job's end by twice as long.
  ::setenv("OMPI_MCA_odls_base_sigkill_timeout", "5", 0);
}

}  // namespace

namespace {

long long system_clock_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

double seconds_since_launch() {
  const char* text = std::getenv(kLaunchTimeVariable);
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  const long long launched = std::strtoll(text, &end, 10);
  if (*end != '\0') return 0;
  const double seconds = static_cast<double>(system_clock_nanoseconds() - launched) / 1e9;
  return seconds >= 0 && seconds < 3600 ? seconds : 0;
}

std::optional<std::string> find_mpirun() {
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / "mpirun";
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
      start = end + 1;
    }
  }
  const std::string built = UTT_MPIEXEC;
  if (!built.empty() && ::access(built.c_str(), X_OK) == 0) return built;
  return std::nullopt;
}

std::vector<std::string> worker_command(const std::string& mpirun, int workers, const std::string& program,
                                        const std::vector<std::string>& args) {
  // --oversubscribe: OpenMPI counts slots in physical cores, and a 2-vCPU machine may have one.
  // --bind-to none: each worker runs its own OpenMP threads, which a one-core binding would
  // squeeze onto a single core.
  std::vector<std::string> command = {mpirun, "-np", std::to_string(workers), "--oversubscribe", "--bind-to",
                                      "none", program};
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

std::string describe_failed_worker(const std::string& output) {
  std::smatch match;
  static const std::regex killed(R"(process rank (\d+) with PID \d+ on node (\S+) exited on signal (\d+) \(([^)]*)\))");
  if (std::regex_search(output, match, killed)) {
    return "worker rank " + match[1].str() + " (on " + match[2].str() + ") was killed by signal " + match[3].str() +
           " (" + match[4].str() + ")";
  }
  static const std::regex aborted(R"(MPI_ABORT was invoked on rank (\d+))");
  if (std::regex_search(output, match, aborted)) {
    return "worker rank " + match[1].str() + " stopped the job after an error (its message is above)";
  }
  static const std::regex exited(R"(Process name: \[\[\d+,\d+\],(\d+)\]\s+Exit code:\s+(\d+))");
  if (std::regex_search(output, match, exited)) {
    return "worker rank " + match[1].str() + " exited with code " + match[2].str();
  }
  return "";
}

std::optional<int> clean_stop_code(const std::string& output) {
  const size_t at = output.rfind(kStopLinePrefix);
  if (at == std::string::npos) return std::nullopt;
  const size_t end = output.find('\n', at);
  const std::string line = output.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return line.find(" by SIGINT") != std::string::npos ? 128 + SIGINT : 128 + SIGTERM;
}

int run_local_workers(int workers, const std::vector<std::string>& args) {
  const std::optional<std::string> mpirun = find_mpirun();
  if (!mpirun) {
    throw UserError("--num-devices " + std::to_string(workers) + " starts its workers with mpirun, which is not "
                    "installed: install openmpi-bin (scripts/setup does), or train with --num-devices 1");
  }
  const std::vector<std::string> command = worker_command(*mpirun, workers, this_program(), args);
  const long long launched = system_clock_nanoseconds();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw UserError(std::string("cannot start the workers: pipe: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = ::fork();
  if (child < 0) throw UserError(std::string("cannot start the workers: fork: ") + std::strerror(errno));
  if (child == 0) {
    // mpirun's and the workers' stderr go through the launcher, which reads mpirun's report.
    ::dup2(pipe_fds[1], STDERR_FILENO);
    set_worker_environment();
    ::setenv(kLaunchTimeVariable, std::to_string(launched).c_str(), 1);
    std::vector<char*> argv;
    for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "utt: error: cannot run %s: %s\n", argv[0], std::strerror(errno));
    std::_Exit(127);
  }
  ::close(pipe_fds[1]);
  // No SA_RESTART: the signal interrupts the read below, which passes it on.
  struct sigaction action {};
  action.sa_handler = note_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  // Ctrl-C reaches mpirun from the terminal itself (same process group): not passed on twice.
  ::signal(SIGINT, SIG_IGN);

  std::string report;  // everything the job wrote to stderr, for describe_failed_worker
  char buffer[4096];
  bool stop_passed_on = false;  // once: a second signal while the workers stop changes nothing
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (g_stop_signal != 0 && !stop_passed_on) {
      stop_workers(child, g_stop_signal);
      stop_passed_on = true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    (void)!::write(STDERR_FILENO, buffer, static_cast<size_t>(n));
    report.append(buffer, static_cast<size_t>(n));
    if (report.size() > (size_t{1} << 20)) report.erase(0, report.size() - (size_t{1} << 19));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::string failed = describe_failed_worker(report);
  // Workers stopped by SIGINT/SIGTERM (passed on by the launcher, sent to any of them, or
  // passed on by mpirun when it got one) save a checkpoint, say so on stdout with the command
  // that resumes and, on rank 0's stderr, in one line; they exit 130/143. mpirun exits with 1
  // when it was signalled itself: the line tells that stop from a failure.
  // A worker's own 130/143 is such a stop too: mpirun passes the first failing exit code on,
  // and its forwarding of the workers' last output is not reliable as the job ends.
  std::optional<int> stop_code = clean_stop_code(report);
  if (!stop_code && (code == 128 + SIGTERM || code == 128 + SIGINT)) stop_code = code;
  if (stop_code && failed.find("killed by signal") == std::string::npos) return *stop_code;
  if (failed.empty()) failed = "a worker failed (mpirun exited with code " + std::to_string(code) + ")";
  std::fprintf(stderr, "utt: error: %s; the other workers were stopped\n", failed.c_str());
  return code;
}

}  // namespace utt
