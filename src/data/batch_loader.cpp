#include "data/batch_loader.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace utt {
namespace {

constexpr int kStateVersion = 1;

}  // namespace

std::string describe_loader_settings(const LoaderConfig& c, const TokenEncoder& encoder,
                                     const std::string& mode) {
  nlohmann::json j;
  j["mode"] = mode;
  j["files"] = c.files;
  j["text_column"] = c.text_column;
  j["hold_out"] = static_cast<int>(c.selection.hold_out);
  j["val_fraction"] = c.selection.val_fraction;
  j["max_documents"] = c.selection.max_documents ? *c.selection.max_documents : -1;
  j["rank"] = c.selection.rank;
  j["world"] = c.selection.world;
  j["batch_size"] = c.batch_size;
  j["seq_len"] = c.seq_len;
  j["stride"] = c.stride;
  j["shuffle_buffer_size"] = c.shuffle_buffer_size;
  j["seed"] = c.seed;
  j["encoder"] = encoder.fingerprint();
  return j.dump();
}

std::string LoaderState::to_json() const {
  nlohmann::json j;
  j["version"] = kStateVersion;
  j["epoch"] = epoch;
  j["documents_taken"] = documents_taken;
  j["batches_in_epoch"] = batches_in_epoch;
  j["shuffle_seed"] = shuffle_seed;
  j["pending_tokens"] = pending_tokens;
  j["settings"] = settings;
  return j.dump();
}

LoaderState LoaderState::from_json(const std::string& json) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    if (j.at("version").get<int>() != kStateVersion) {
      throw UserError("data loader state version " + j.at("version").dump() +
                      " is not the one this utt writes (" + std::to_string(kStateVersion) +
                      "): resume with the utt that saved it");
    }
    LoaderState state;
    state.epoch = j.at("epoch").get<int64_t>();
    state.documents_taken = j.at("documents_taken").get<int64_t>();
    state.batches_in_epoch = j.at("batches_in_epoch").get<int64_t>();
    state.shuffle_seed = j.at("shuffle_seed").get<uint64_t>();
    state.pending_tokens = j.at("pending_tokens").get<std::vector<uint32_t>>();
    state.settings = j.at("settings").get<std::string>();
    return state;
  } catch (const nlohmann::json::exception& error) {
    throw UserError(std::string("the data loader state is damaged (") + error.what() +
                    "): resume from another checkpoint");
  }
}

}  // namespace utt
