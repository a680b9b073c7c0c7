#include "e2e/run_utt.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_paths.h"

namespace utt::test {
namespace {

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string utt_binary() { return binary_dir() + "/utt"; }

std::string scratch_dir(const std::string& name) {
  static int counter = 0;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("utt_e2e_" + std::to_string(::getpid()) + "_" +
                                     std::to_string(counter++) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

bool is_empty_dir(const std::string& dir) {
  return std::filesystem::is_empty(std::filesystem::path(dir));
}

RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::string& cwd) {
  std::filesystem::create_directories(cwd);
  const std::string err_path = cwd + "/.stderr";
  // Built with a stream: GCC 12 warns falsely (-Wrestrict) on chains of string `+`.
  std::ostringstream command_stream;
  command_stream << "cd " << shell_quote(cwd) << " && exec " << shell_quote(program);
  for (const std::string& arg : args) command_stream << ' ' << shell_quote(arg);
  command_stream << " 2>" << shell_quote(err_path) << " </dev/null";
  const std::string command = command_stream.str();
  RunResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = read_file(err_path);
  std::filesystem::remove(err_path);
  return result;
}

BackgroundRun::BackgroundRun(const std::vector<std::string>& args, const std::string& cwd) {
  static int counter = 0;
  std::filesystem::create_directories(cwd);
  const std::string tag = std::to_string(counter++);
  out_path_ = cwd + "/.background-" + tag + ".out";
  err_path_ = cwd + "/.background-" + tag + ".err";
  const std::string program = utt_binary();
  std::vector<std::string> argv_storage = {program};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    // The child: only async-signal-safe calls until exec.
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
}

std::string BackgroundRun::output_so_far() const { return read_file(out_path_); }

BackgroundRun::~BackgroundRun() {
  if (pid_ > 0) stop(SIGKILL);
}

RunResult BackgroundRun::collect(int status) {
  pid_ = -1;
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out_path_);
  result.err = read_file(err_path_);
  std::filesystem::remove(out_path_);
  std::filesystem::remove(err_path_);
  return result;
}

std::optional<RunResult> BackgroundRun::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) return collect(status);
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::nullopt;
}

RunResult BackgroundRun::stop(int signal) {
  if (pid_ <= 0) return {};
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  return collect(status);
}

RunResult run_utt(const std::vector<std::string>& args, const std::string& cwd) {
  return run_program(utt_binary(), args, cwd.empty() ? scratch_dir("run") : cwd);
}

}  // namespace utt::test
