// `utt presets`: the guide's presets with their exact sizes for a given vocabulary and
// architecture (the guide's "~5M" figures are rough; these are counted).
#include <fmt/format.h>

#include <algorithm>

#include "cli/commands.h"
#include "cli/train_flags.h"
#include "config/presets.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

// The train flags that change a preset's parameter count.
const std::vector<std::string> kPresetFlags = {"vocab-size", "seq-len", "num-kv-heads", "rmsnorm",
                                               "swiglu", "activation", "rope", "tie-embeddings"};

std::string presets_help() {
  return "utt presets - list the model presets with their exact parameter counts\n"
         "\n"
         "Usage: utt presets [--vocab-size N] [--seq-len N] [--num-kv-heads N] [--no-rmsnorm]\n"
         "                   [--no-swiglu] [--activation relu|gelu|silu] [--no-rope]\n"
         "                   [--no-tie-embeddings]\n"
         "\n"
         "The counts depend on the vocabulary (default 16000) and the architecture switches,\n"
         "which mean the same as in utt train.\n";
}

}  // namespace

int run_presets(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    fmt::print("{}", presets_help());
    return 0;
  }
  const TrainConfig config = parse_train_args(args);
  for (const std::string& flag : config.explicitly_set) {
    if (std::find(kPresetFlags.begin(), kPresetFlags.end(), flag) == kPresetFlags.end()) {
      throw UserError("utt presets does not take --" + flag +
                      ": it takes --vocab-size, --seq-len, --num-kv-heads and the architecture "
                      "switches (see utt presets --help)");
    }
  }
  ModelConfig base = architecture_of(config);
  fmt::print("Model presets at vocabulary {} ({}):\n\n", with_thousands(base.vocab_size),
             describe_architecture(base));
  fmt::print("{:<8} {:>7} {:>6} {:>5} {:>6} {:>14} {:>14}  {:<6} {}\n", "preset", "d_model",
             "layers", "heads", "d_ff", "parameters", "non-embedding", "guide", "description");
  for (const ModelPreset& preset : model_presets()) {
    ModelConfig m = base;
    m.d_model = preset.d_model;
    m.num_layers = preset.num_layers;
    m.num_heads = preset.num_heads;
    m.d_ff = preset.d_ff;
    m.num_kv_heads = config.was_set("num-kv-heads") ? base.num_kv_heads : preset.num_heads;
    validate_model(m);
    const ParameterCount count = count_parameters(m);
    fmt::print("{:<8} {:>7} {:>6} {:>5} {:>6} {:>14} {:>14}  {:<6} {}\n", preset.name, m.d_model,
               m.num_layers, m.num_heads, m.d_ff, with_thousands(count.total),
               with_thousands(count.non_embedding), preset.guide_size, preset.description);
  }
  return 0;
}

}  // namespace utt
