#include "data/batch_loader.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "util/error.h"

namespace utt {
namespace {

// Version 2: windows shuffled in blocks and a per-epoch window offset (version 1 packed
// windows in stream order).
constexpr int kStateVersion = 2;
constexpr int64_t kDefaultWindowShuffleTokens = int64_t{1} << 22;
constexpr int64_t kMinWindowShuffleBatches = 64;

nlohmann::json packer_to_json(const PackerState& p) {
  return {{"tokens", p.tokens},
          {"skip", p.skip},
          {"document_starts", p.document_starts},
          {"first_document", p.first_document},
          {"documents_added", p.documents_added}};
}

PackerState packer_from_json(const nlohmann::json& j) {
  PackerState p;
  p.tokens = j.at("tokens").get<std::vector<uint32_t>>();
  p.skip = j.at("skip").get<int64_t>();
  p.document_starts = j.at("document_starts").get<std::vector<int64_t>>();
  p.first_document = j.at("first_document").get<int64_t>();
  p.documents_added = j.at("documents_added").get<int64_t>();
  return p;
}

}  // namespace

std::span<const uint32_t> rank_share(const std::vector<uint32_t>& batch, int64_t rank, int64_t ranks) {
  UTT_CHECK(ranks >= 1 && rank >= 0 && rank < ranks && batch.size() % static_cast<size_t>(ranks) == 0,
            "a batch of " + std::to_string(batch.size()) + " ids has no share for rank " + std::to_string(rank) +
                " of " + std::to_string(ranks));
  const size_t share = batch.size() / static_cast<size_t>(ranks);
  return {batch.data() + static_cast<size_t>(rank) * share, share};
}

int64_t default_window_shuffle_windows(int64_t seq_len, int64_t batch_size) {
  return std::max(kDefaultWindowShuffleTokens / (seq_len + 1), kMinWindowShuffleBatches * batch_size);
}

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
  j["window_shuffle_windows"] = c.window_shuffle_windows;
  j["offset_epochs"] = c.offset_epochs;
  j["seed"] = c.seed;
  j["encoder"] = encoder.fingerprint();
  return j.dump();
}

std::string LoaderState::to_json() const {
  nlohmann::json j;
  j["version"] = kStateVersion;
  j["epoch"] = epoch;
  j["batches_in_epoch"] = batches_in_epoch;
  j["shuffle_seed"] = shuffle_seed;
  j["window_block"] = windows.block;
  j["windows_taken_in_block"] = windows.windows_taken;
  j["packer_at_block_start"] = packer_to_json(windows.packer);
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
    state.batches_in_epoch = j.at("batches_in_epoch").get<int64_t>();
    state.shuffle_seed = j.at("shuffle_seed").get<uint64_t>();
    state.windows.block = j.at("window_block").get<int64_t>();
    state.windows.windows_taken = j.at("windows_taken_in_block").get<int64_t>();
    state.windows.packer = packer_from_json(j.at("packer_at_block_start"));
    state.settings = j.at("settings").get<std::string>();
    return state;
  } catch (const nlohmann::json::exception& error) {
    throw UserError(std::string("the data loader state is damaged (") + error.what() +
                    "): resume from another checkpoint");
  }
}

}  // namespace utt
