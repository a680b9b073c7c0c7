// `utt export`: a trained model in the formats the rest of the ecosystem loads — a Hugging Face
// folder (transformers' from_pretrained) or a GGUF file (llama.cpp, Ollama, LM Studio).
#include <fmt/format.h>

#include <filesystem>

#include "cli/command_flags.h"
#include "cli/commands.h"
#include "export/export_dtype.h"
#include "export/gguf_writer.h"
#include "export/hf_layout.h"
#include "export/hf_writer.h"
#include "export/host_model.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace fs = std::filesystem;
namespace {

const char* const kExportHelp =
    "utt export - write a trained model for Hugging Face transformers or llama.cpp\n"
    "\n"
    "Usage: utt export --checkpoint DIR --format hf|gguf --output PATH [--dtype f32|f16|bf16]\n"
    "\n"
    "  --checkpoint DIR   a utt checkpoint (output_ultimate/final_checkpoint, a LoRA run's checkpoint:\n"
    "                     its adapters are merged into the base) or a Hugging Face model folder\n"
    "  --format FORMAT    hf: a folder with config.json, model.safetensors, generation_config.json,\n"
    "                     tokenizer.json, tokenizer_config.json, special_tokens_map.json\n"
    "                     gguf: one GGUF v3 file with the tokenizer embedded, for llama.cpp\n"
    "  --output PATH      the folder (hf) or file (gguf) to write; an earlier export there is replaced\n"
    "  --dtype TYPE       f32, f16 or bf16 weight matrices (default: f32; GGUF keeps norms in f32)\n"
    "\n"
    "Llama-style models (RMSNorm, SwiGLU, RoPE: utt's defaults) export as LlamaForCausalLM and\n"
    "GGUF `llama`; GPT-2-style models (--no-rmsnorm --no-swiglu --no-rope) as GPT2LMHeadModel and\n"
    "GGUF `gpt2`. Other combinations have no equivalent there and are refused with the reason.\n";

// The output must not be the model being read, and an existing folder is replaced only when it
// is an earlier export (or empty): never a folder holding something else.
void check_output(const fs::path& output, const fs::path& checkpoint, const std::string& format) {
  std::error_code error;
  if (fs::exists(output, error) && fs::exists(checkpoint, error) && fs::equivalent(output, checkpoint, error)) {
    throw UserError("--output " + output.string() + " is the checkpoint being exported: choose another path");
  }
  if (format == "gguf") {
    if (fs::is_directory(output, error)) {
      throw UserError("--output " + output.string() + " is a directory; --format gguf writes one file: give a "
                      "file name such as model.gguf");
    }
    return;
  }
  if (fs::exists(output, error) && !fs::is_directory(output, error)) {
    throw UserError("--output " + output.string() + " is a file; --format hf writes a folder: give a folder name");
  }
  if (fs::is_directory(output, error) && !fs::is_empty(output, error) && !fs::exists(output / "config.json", error)) {
    throw UserError("--output " + output.string() + " is a folder that holds something other than an export: "
                    "give a new or empty folder");
  }
}

}  // namespace

int run_export(const std::vector<std::string>& args) {
  const CommandFlags flags(args, "utt export", {{"checkpoint", "format", "output", "dtype"}, {}, {}});
  if (flags.help()) {
    fmt::print("{}", kExportHelp);
    return 0;
  }
  const fs::path checkpoint = flags.required("checkpoint");
  const std::string format = to_lower(flags.required("format"));
  if (format != "hf" && format != "gguf") {
    throw UserError("unknown --format '" + flags.get("format") + "': use hf (Hugging Face folder) or gguf (llama.cpp)");
  }
  const fs::path output = flags.required("output");
  const ExportDtype dtype = parse_export_dtype(to_lower(flags.get("dtype", "f32")));
  check_output(output, checkpoint, format);

  // An architecture without an equivalent is refused before any weights are read.
  if (fs::exists(checkpoint / "model_config.json")) export_architecture(read_utt_model_config(checkpoint), format);
  const HostModel model = load_model_dir(checkpoint, "--checkpoint");
  const HfArchitecture architecture = export_architecture(model.config, format);
  if (format == "hf") {
    write_hf_folder(model, output, dtype);
  } else {
    write_gguf(model, output, dtype);
  }
  fmt::print("Exported {} {} as {} ({}, {}, {} parameters) to {}\n", model.kind, model.source,
             format == "hf" ? "a Hugging Face folder" : "GGUF",
             format == "hf" ? hf_class_name(architecture)
                            : (architecture == HfArchitecture::kLlama ? "llama" : "gpt2"),
             to_string(dtype), with_thousands(static_cast<int64_t>(model.weights.size())), output.string());
  return 0;
}

}  // namespace utt
