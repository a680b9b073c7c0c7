#include "generate/inference_model.h"

#include "backend/cpu/cpu_backend.h"
#include "model/weights_io.h"
#include "train/checkpoint.h"
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
  for (const char* file : {"model_config.json", "tokenizer.json", "model.safetensors"}) {
    if (!std::filesystem::exists(checkpoint / file)) {
      throw UserError("--checkpoint " + checkpoint.string() + " has no " + file +
                      ": it is not a utt checkpoint directory (expected model.safetensors, "
                      "model_config.json and tokenizer.json)");
    }
  }
  InferenceModel loaded;
  const ModelConfig config = read_checkpoint_model_config(checkpoint);
  loaded.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load((checkpoint / "tokenizer.json").string()));
  if (loaded.tokenizer->vocab_size() != static_cast<uint32_t>(config.vocab_size)) {
    throw UserError("--checkpoint " + checkpoint.string() + ": tokenizer.json has " +
                    std::to_string(loaded.tokenizer->vocab_size()) + " tokens but the model " +
                    std::to_string(config.vocab_size) + ": the files come from different runs");
  }
  CpuBackendOptions options;
  options.threads = threads;
  loaded.backend = make_cpu_backend(options);
  // The weights are read, and the file's bytes released, before the model allocates its own
  // buffer: two copies of the weights in memory at the peak (file and host copy, then host copy
  // and model), not three.
  const std::vector<float> weights =
      read_weights(ParameterLayout(config), (checkpoint / "model.safetensors").string());
  loaded.model = std::make_unique<Transformer>(config, *loaded.backend, max_batch, ModelUse::kInference);
  loaded.model->set_parameters(weights);
  return loaded;
}

}  // namespace utt
