// A trained model loaded for generation or evaluation: a utt checkpoint directory
// (model_config.json, tokenizer.json, model.safetensors), a LoRA run's checkpoint (its adapters
// merged into the base it names) or a Hugging Face Llama/GPT-2 folder (export/host_model.h).
#pragma once

#include <filesystem>
#include <memory>

#include "backend/backend.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace utt {

struct InferenceModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// The model is built for inference (ModelUse::kInference): weights, no gradients, no training
// activations; forward() takes up to `max_batch` rows of seq_len tokens, and max_batch 0 (for
// generation, which runs in a KvCache) allocates no activations at all.
// Throws UserError naming the missing or damaged file.
InferenceModel load_inference_model(const std::filesystem::path& checkpoint, int threads,
                                    int64_t max_batch);

}  // namespace utt
