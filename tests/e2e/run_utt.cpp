#include "e2e/run_utt.h"

#include <sys/wait.h>
#include <unistd.h>

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

RunResult run_utt(const std::vector<std::string>& args, const std::string& cwd) {
  return run_program(utt_binary(), args, cwd.empty() ? scratch_dir("run") : cwd);
}

}  // namespace utt::test
