// SIGINT / SIGTERM during training: the first one asks the trainer to finish the current step,
// save a checkpoint and exit with the command that resumes; a second SIGINT stops at once.
#pragma once

#include <string>

namespace utt {

// Installs the handlers (idempotent). Call once before the training loop.
void install_stop_handlers();

// True once SIGINT or SIGTERM arrived.
bool stop_requested();

// A line written to stderr when a second SIGINT ends the process (what it abandons); "" for
// none. Kept in a fixed buffer: the signal handler writes it with write(2).
void set_second_interrupt_note(const std::string& line);

// The signal's name ("SIGINT", "SIGTERM"), or "" when none arrived.
const char* stop_signal_name();

}  // namespace utt
