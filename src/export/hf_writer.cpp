#include "export/hf_writer.h"

#include <nlohmann/json.hpp>

#include "export/hf_config.h"
#include "export/hf_layout.h"
#include "io/safetensors.h"
#include "io/staged_dir.h"

namespace utt {
namespace {

using Json = nlohmann::ordered_json;

std::string token_text(const Tokenizer& tokenizer, uint32_t id) { return tokenizer.spec().tokens[id]; }

std::string torch_dtype(ExportDtype dtype) {
  switch (dtype) {
    case ExportDtype::kF32: return "float32";
    case ExportDtype::kF16: return "float16";
    case ExportDtype::kBF16: return "bfloat16";
  }
  return "float32";
}

}  // namespace

void write_hf_folder(const HostModel& model, const std::filesystem::path& output, ExportDtype dtype) {
  const HfArchitecture architecture = export_architecture(model.config, "hf");
  const Tokenizer& tokenizer = *model.tokenizer;
  const uint32_t bos = tokenizer.bos_id();
  const uint32_t eos = tokenizer.eos_id();
  const uint32_t pad = tokenizer.pad_id();

  // Tensors in HF's names and layouts, converted to the export dtype; the views point into
  // `encoded`, which outlives the write.
  const std::vector<NamedTensor> tensors = to_hf_tensors(model.config, architecture, model.weights);
  std::vector<std::vector<uint8_t>> encoded;
  encoded.reserve(tensors.size());
  std::vector<safetensors::TensorToWrite> views;
  for (const NamedTensor& tensor : tensors) {
    encoded.push_back(encode_values(tensor.values, dtype));
    views.push_back({tensor.name, safetensors_dtype(dtype), tensor.shape, encoded.back().data()});
  }

  const Json config = hf_config_json(model.config, architecture, bos, eos, torch_dtype(dtype));
  const Json generation = {{"bos_token_id", bos}, {"eos_token_id", eos}, {"pad_token_id", pad},
                           {"max_length", model.config.seq_len}};
  // PreTrainedTokenizerFast loads tokenizer.json as it is (a model-specific class would rebuild
  // its own pre-tokenizer); no token_type_ids for a causal LM; decode stays exact.
  const Json tokenizer_config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                                 {"bos_token", token_text(tokenizer, bos)},
                                 {"eos_token", token_text(tokenizer, eos)},
                                 {"unk_token", nullptr},
                                 {"pad_token", token_text(tokenizer, pad)},
                                 {"model_max_length", model.config.seq_len},
                                 {"clean_up_tokenization_spaces", false},
                                 {"model_input_names", {"input_ids", "attention_mask"}}};
  const Json special_tokens = {{"bos_token", token_text(tokenizer, bos)},
                               {"eos_token", token_text(tokenizer, eos)},
                               {"pad_token", token_text(tokenizer, pad)}};

  StagedDirectory staged(output);
  staged.write_file("model.safetensors", safetensors::serialize_pieces(views, {{"format", "pt"}}).all());
  staged.write_file("config.json", config.dump(2) + "\n");
  staged.write_file("generation_config.json", generation.dump(2) + "\n");
  staged.write_file("tokenizer.json", tokenizer.to_json());
  staged.write_file("tokenizer_config.json", tokenizer_config.dump(2) + "\n");
  staged.write_file("special_tokens_map.json", special_tokens.dump(2) + "\n");
  staged.commit();
}

}  // namespace utt
