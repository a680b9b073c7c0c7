#include "train/stop_signal.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>

namespace utt {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
char g_note[1024];
std::atomic<size_t> g_note_size{0};

extern "C" void on_stop_signal(int signal_number) {
  if (g_stop_signal != 0 && signal_number == SIGINT) {
    // A second Ctrl-C: the user wants out now, checkpoint or not.
    const size_t size = g_note_size.load();
    if (size > 0) {
      [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, g_note, size);
    }
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop_signal = signal_number;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void set_second_interrupt_note(const std::string& line) {
  g_note_size = 0;  // the handler writes nothing while the buffer changes
  const size_t size = std::min(line.size(), sizeof(g_note));
  std::memcpy(g_note, line.data(), size);
  g_note_size = size;
}

bool stop_requested() { return g_stop_signal != 0; }

const char* stop_signal_name() {
  switch (g_stop_signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "";
  }
}

}  // namespace utt
