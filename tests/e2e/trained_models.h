// Small models trained once and shared by the tests that need a *trained* model (an untrained
// one hides layout mistakes: a wrong RoPE pairing barely changes its outputs). CTest runs every
// test in its own process, so each model is trained into the build tree under a name that
// includes its flags and the utt binary's identity, behind a file lock: the first test to need it
// trains it (a few seconds), every later test and run reuses it until utt is rebuilt.
#pragma once

#include <string>
#include <vector>

namespace utt::test {

// The output directory of `utt train <flags> --output-dir DIR`, trained if not yet there.
// `flags` must not name --output-dir. Fails the calling test (and returns "") when training fails.
std::string trained_model(const std::string& name, const std::vector<std::string>& flags);

// A Llama-style model (RMSNorm, SwiGLU, RoPE), grouped-query attention, untied head, the default
// cl100k tokenizer; 150 steps on a slice of the demo corpus.
std::string trained_llama();
// A GPT-2-style model (LayerNorm, GELU MLP, learned positions), tied head, a GPT-2-pattern
// tokenizer; 150 steps.
std::string trained_gpt2();

// The demo corpus folder (data/sotu).
std::string demo_corpus();

}  // namespace utt::test
