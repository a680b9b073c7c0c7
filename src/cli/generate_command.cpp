// `utt generate`: continue a prompt with a trained model, printing tokens as they come.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include <cstdio>
#include <random>

#include "cli/command_flags.h"
#include "cli/commands.h"
#include "generate/inference_model.h"
#include "generate/sampling.h"
#include "model/kv_cache.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

const char* const kGenerateHelp =
    "utt generate - continue a prompt with a trained model\n"
    "\n"
    "Usage: utt generate --checkpoint DIR --prompt TEXT [flags]\n"
    "\n"
    "  --checkpoint DIR       a checkpoint directory (output_ultimate/final_checkpoint, best_checkpoint, ...;\n"
    "                         a LoRA run's, or a Hugging Face Llama/GPT-2 folder)\n"
    "  --prompt TEXT          the text to continue (default: empty, start from <|endoftext|>)\n"
    "  --max-new-tokens N     tokens to generate (default: 100)\n"
    "  --temperature T        sampling temperature; 0 is greedy (default: 0.8)\n"
    "  --top-k K              sample among the K most likely tokens; 0 turns it off (default: 50)\n"
    "  --top-p P              sample from the smallest set holding probability P; 1 turns it off (default: 0.95)\n"
    "  --seed N               random seed: the same seed gives the same text (default: 42)\n"
    "  --threads N            CPU threads; 0 is one per core (default: 0)\n"
    "\n"
    "Generation stops early at <|endoftext|>. Keys and values of earlier tokens are cached, so each\n"
    "new token costs one position's work; when the model's seq_len window is full, its newest half\n"
    "is kept and the cache refilled from it. A last line on stderr gives the number of tokens\n"
    "generated and their rate.\n";

}  // namespace

int run_generate(const std::vector<std::string>& args) {
  const CommandFlags flags(args, "utt generate",
                           {{"checkpoint", "prompt", "max-new-tokens", "temperature", "top-k", "top-p",
                             "seed", "threads"},
                            {},
                            {}});
  if (flags.help()) {
    fmt::print("{}", kGenerateHelp);
    return 0;
  }
  const std::string checkpoint = flags.required("checkpoint");
  const std::string prompt = flags.get("prompt");
  const int64_t max_new = parse_int(flags.get("max-new-tokens", "100"), "--max-new-tokens");
  if (max_new < 1) throw UserError("--max-new-tokens must be at least 1, got " + std::to_string(max_new));
  SamplingOptions sampling;
  sampling.temperature = parse_float(flags.get("temperature", "0.8"), "--temperature");
  sampling.top_k = parse_int(flags.get("top-k", "50"), "--top-k");
  sampling.top_p = parse_float(flags.get("top-p", "0.95"), "--top-p");
  validate_sampling(sampling);
  const int64_t seed = parse_int(flags.get("seed", "42"), "--seed");
  const int64_t threads = parse_int(flags.get("threads", "0"), "--threads");

  // Weights only: decoding runs in the KV cache's own one-position buffers.
  InferenceModel loaded = load_inference_model(checkpoint, static_cast<int>(threads), 0);
  Transformer& model = *loaded.model;
  const Tokenizer& tokenizer = *loaded.tokenizer;
  const int64_t window = model.config().seq_len;

  // The context starts as a document does in training: after the previous document's
  // separators and with this one's (<|endoftext|>, or a template's <|begin_of_text|>).
  const TextTemplate separators = tokenizer.document_separators();
  std::vector<int32_t> context;
  for (const auto* ids : {&separators.suffix, &separators.prefix}) {
    for (uint32_t id : *ids) context.push_back(static_cast<int32_t>(id));
  }
  for (uint32_t id : tokenizer.encode(prompt)) context.push_back(static_cast<int32_t>(id));
  auto ends_document = [&](int32_t id) {
    for (const auto* ids : {&separators.suffix, &separators.prefix}) {
      if (std::find(ids->begin(), ids->end(), static_cast<uint32_t>(id)) != ids->end()) return true;
    }
    return false;
  };
  const size_t prompt_tokens = context.size() - separators.suffix.size() - separators.prefix.size();
  fmt::print("{}", prompt);
  std::fflush(stdout);

  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  KvCacheDecoder decoder(model);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  // Feeds the last `keep` tokens of the context to an empty cache; returns the next logits.
  auto refill = [&](int64_t keep) {
    decoder.reset();
    std::vector<float> logits;
    for (size_t i = context.size() - static_cast<size_t>(keep); i < context.size(); ++i) {
      logits = decoder.append(context[i]);
    }
    return logits;
  };
  std::vector<float> logits = refill(std::min<int64_t>(static_cast<int64_t>(context.size()), window));
  std::vector<uint32_t> generated;
  size_t printed_bytes = 0;
  for (int64_t i = 0; i < max_new; ++i) {
    // Ids in a gap of the tokenizer's id space name no token: never sampled.
    for (uint32_t unused : tokenizer.spec().unused_ids) logits[unused] = -std::numeric_limits<float>::infinity();
    const int32_t next = sample_token(logits, sampling, rng);
    if (ends_document(next)) break;
    context.push_back(next);
    generated.push_back(static_cast<uint32_t>(next));
    // Decode everything generated so far and print what is new: a character split across
    // tokens comes out whole once its last byte arrives.
    const std::string text = tokenizer.decode(generated);
    if (text.size() > printed_bytes) {
      std::fwrite(text.data() + printed_bytes, 1, text.size() - printed_bytes, stdout);
      std::fflush(stdout);
      printed_bytes = text.size();
    }
    if (i + 1 == max_new) break;
    // A full window slides by half: the newest half is re-read into an empty cache.
    logits = decoder.length() < window ? decoder.append(next) : refill(std::max<int64_t>(1, window / 2));
  }
  fmt::print("\n");
  std::fflush(stdout);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // The time includes reading the prompt into the cache.
  fmt::print(stderr, "generated {} tokens in {:.2f} s, {:.1f} tokens/s (prompt: {} tokens)\n",
             generated.size(), seconds, static_cast<double>(generated.size()) / std::max(seconds, 1e-9),
             prompt_tokens);
  return 0;
}

}  // namespace utt
