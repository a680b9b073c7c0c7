// Writing a GGUF v3 file that llama.cpp loads and runs: the `llama` architecture for Llama-style
// models, `gpt2` for GPT-2-style ones, with the BPE tokenizer embedded (tokens, merges, token
// types, special ids, pre-tokenizer name). Facts: ../shared/reference/hf-model-export.md.
//
// Layout: "GGUF", version 3, tensor and key counts, the keys, the tensor infos (name, dims in
// ggml order — innermost first, i.e. the PyTorch shape reversed —, type, offset), zero padding to
// 32 bytes, then the tensor data, each tensor at an offset packed in info order and aligned to 32.
#pragma once

#include <filesystem>

#include "export/export_dtype.h"
#include "export/host_model.h"

namespace utt {

// Checks the architecture and the tokenizer first (UserError before anything is written), then
// writes `output` through a temporary file renamed into place. Matrices are stored in `dtype`;
// norm weights and biases always in F32 (llama.cpp needs them so).
void write_gguf(const HostModel& model, const std::filesystem::path& output, ExportDtype dtype);

}  // namespace utt
