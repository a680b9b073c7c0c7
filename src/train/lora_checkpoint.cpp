#include "train/lora_checkpoint.h"

#include <fmt/format.h>

#include "export/peft_adapters.h"
#include "io/safetensors.h"
#include "model/lora_adapters.h"
#include "util/error.h"

namespace utt {

void save_lora_state(StagedDirectory& staged, const Transformer& model, const AdamW& optimizer) {
  const LoraAdapters& lora = *model.lora();
  write_peft_adapters(staged, model.config(), lora.layout(), lora.get_parameters(),
                      {lora.base_path, lora.base_fingerprint});
  const std::vector<float> m = optimizer.first_moment();
  const std::vector<float> v = optimizer.second_moment();
  const std::vector<int64_t> shape = {lora.count()};
  staged.write_file("optimizer.safetensors",
                    safetensors::serialize_pieces({{"exp_avg.adapters", safetensors::Dtype::kF32, shape, m.data()},
                                                   {"exp_avg_sq.adapters", safetensors::Dtype::kF32, shape, v.data()}},
                                                  {{"format", "utt-adamw"},
                                                   {"steps_taken", std::to_string(optimizer.steps_taken())}})
                        .all());
}

void load_lora_state(const std::filesystem::path& dir, Transformer& model, AdamW& optimizer, int64_t step) {
  LoraAdapters& lora = *model.lora();
  if (!std::filesystem::exists(dir / "lora.json")) {
    throw UserError("cannot resume from " + dir.string() + ": it is not a LoRA checkpoint (no lora.json); resume "
                    "without --use-lora, or from a checkpoint of this LoRA run");
  }
  const StoredLora stored = read_lora_json(dir);
  const LoraSettings& ours = lora.layout().settings();
  if (stored.settings.rank != ours.rank || stored.settings.alpha != ours.alpha ||
      stored.settings.dropout != ours.dropout || stored.settings.targets != ours.targets) {
    throw UserError(fmt::format("cannot resume from {}: its adapters were trained with --lora-rank {} --lora-alpha {} "
                                "--lora-dropout {} --lora-targets {}; use the same flags",
                                dir.string(), stored.settings.rank, stored.settings.alpha, stored.settings.dropout,
                                lora_targets_text(stored.settings.targets)));
  }
  if (stored.base.fingerprint != lora.base_fingerprint) {
    throw UserError("cannot resume from " + dir.string() + ": its adapters belong to another base model (" +
                    stored.base.path + "); resume with --init-from " + stored.base.path);
  }
  lora.set_parameters(read_peft_adapters(dir, model.config(), lora.layout()));
  const std::string path = (dir / "optimizer.safetensors").string();
  const safetensors::File file = safetensors::File::read(path);
  for (const char* name : {"exp_avg.adapters", "exp_avg_sq.adapters"}) {
    if (file.find(name) == nullptr || file.at(name).element_count() != lora.count()) {
      throw UserError(path + " lacks the adapters' optimizer state '" + std::string(name) + "'; the checkpoint is damaged");
    }
  }
  optimizer.restore(file.read_floats("exp_avg.adapters"), file.read_floats("exp_avg_sq.adapters"), step);
}

}  // namespace utt
