#include "generate/inference_model.h"

#include "backend/backend_factory.h"
#include "export/host_model.h"
#include "util/error.h"

namespace utt {

InferenceModel load_inference_model(const std::filesystem::path& checkpoint, int threads,
                                    int64_t max_batch) {
  std::error_code error;
  if (!std::filesystem::is_directory(checkpoint, error)) {
    throw UserError("--checkpoint " + checkpoint.string() +
                    " is not a directory: give a checkpoint directory such as "
                    "output_ultimate/final_checkpoint or best_checkpoint");
  }
  // A utt checkpoint, a LoRA checkpoint (adapters merged into its base) or a Hugging Face folder.
  const HostModel host = load_model_dir(checkpoint, "--checkpoint");
  InferenceModel loaded;
  loaded.tokenizer = std::make_unique<Tokenizer>(*host.tokenizer);
  // Generation and evaluation run on the CPU: they take no --device flag.
  loaded.backend = make_backend({.kind = BackendKind::kCpu, .threads = threads});
  // The host copy of the weights is complete (the file's bytes released) before the model
  // allocates its own buffer: two copies of the weights at the peak, not three. Weights only:
  // no gradients, one layer's activations (ModelUse::kInference).
  loaded.model = std::make_unique<Transformer>(host.config, *loaded.backend, max_batch, ModelUse::kInference);
  loaded.model->set_parameters(host.weights);
  return loaded;
}

}  // namespace utt
