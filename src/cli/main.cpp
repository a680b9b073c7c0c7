// utt: the entry point. Picks the subcommand, runs it, and turns errors into one line and an
// exit code: 2 for a problem with the user's request, 3 for a bug in utt.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "backend/device.h"
#include "cli/commands.h"
#include "util/error.h"
#include "util/text.h"
#include "version.h"

namespace utt {
namespace {

constexpr int kExitInternalError = 3;

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> list = {
      {"train", "train a tokenizer and a transformer language model on a dataset", run_train},
      {"presets", "list the model presets with their exact parameter counts", run_presets},
      {"data", "look at a dataset: documents, characters, bytes, skipped texts", run_data},
      {"tokenizer", "train, apply and measure byte-level BPE tokenizers", run_tokenizer},
      {"generate", "continue a prompt with a trained model", run_generate},
      {"eval", "a trained model's loss and perplexity on a dataset split", run_eval},
      {"export", "write a model for Hugging Face transformers (hf) or llama.cpp (gguf)", run_export},
      {"plot", "draw a run's loss curves and learning rate as an SVG (also while it trains)", run_plot},
  };
  return list;
}

std::string usage() {
  std::string text =
      "utt - train decoder-only transformer language models\n"
      "\n"
      "Usage: utt <command> [flags]\n"
      "       utt <command> --help\n"
      "       utt --version\n"
      "\n"
      "Commands:\n";
  for (const Subcommand& command : subcommands()) {
    text += fmt::format("  {:<10} {}\n", command.name, command.summary);
  }
  text += "\nExample:\n"
          "  utt train --dataset-id roneneldan/TinyStories --model-preset tiny --auto-vocab-size "
          "--epochs 3\n";
  return text;
}

std::string version() {
  return fmt::format("utt {} (CUDA backend: {})\n", kUttVersion,
                     query_cuda().built ? "built" : "not built");
}

int dispatch(const std::vector<std::string>& argv) {
  // Installed as train_ultimate, utt behaves as `utt train`, so the guide's examples run with
  // only the program name changed.
  const std::string program = std::filesystem::path(argv[0]).filename().string();
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (program == "train_ultimate") return run_train(args);

  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", usage());
    return args.empty() ? kExitUserError : 0;
  }
  if (args[0] == "--version" || args[0] == "-V") {
    fmt::print("{}", version());
    return 0;
  }
  std::vector<std::string> names;
  for (const Subcommand& command : subcommands()) {
    if (args[0] == command.name) {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
    }
    names.push_back(command.name);
  }
  std::string message = "unknown command '" + args[0] + "'";
  if (auto guess = closest_match(args[0], names)) {
    message += ": did you mean utt " + *guess + "?";
  } else {
    message += ": see utt --help for the commands";
  }
  throw UserError(message);
}

}  // namespace
}  // namespace utt

int main(int argc, char** argv) {
  // Line-buffered even into a file or a pipe: `utt train > log` shows each step as it happens
  // (a few hundred lines per run; the cost is nothing next to a training step).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::string> args(argv, argv + argc);
  try {
    return utt::dispatch(args);
  } catch (const utt::UserError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "utt: error: %s\n", error.what());
    return utt::kExitUserError;
  } catch (const utt::InternalError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "utt: %s\n", error.what());
    return utt::kExitInternalError;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "utt: unexpected error: %s\n", error.what());
    return utt::kExitInternalError;
  }
}
