// Datasets from the Hugging Face Hub: list a repository's files (or the auto-converted
// Parquet of a config and split), download them with resume and size/sha256 checks, and
// keep them in huggingface_hub's cache layout, so Python tools and utt share downloads:
//   $HF_HUB_CACHE/datasets--{org}--{name}/blobs/{etag}
//   $HF_HUB_CACHE/datasets--{org}--{name}/snapshots/{commit}/{path} -> ../../blobs/{etag}
//   $HF_HUB_CACHE/datasets--{org}--{name}/refs/{revision}          (the commit)
// HF_ENDPOINT, HF_TOKEN (also HUGGING_FACE_HUB_TOKEN and $HF_HOME/token), HF_HOME,
// HF_HUB_CACHE and HF_HUB_OFFLINE mean what they mean to huggingface_hub.
// The token is sent only to the endpoint's host and is never printed.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace utt {

struct HubSettings {
  std::string endpoint = "https://huggingface.co";
  std::optional<std::string> token;
  std::string cache_dir;  // HF_HUB_CACHE
  bool offline = false;
};

HubSettings hub_settings_from_environment();

// The local paths (in the cache) of the files of `split`, downloading what is missing.
// Throws UserError for an unknown repository, split or config (listing what exists), for a
// gated or private one without a token (saying to set HF_TOKEN), and offline without a
// cached copy.
std::vector<std::string> fetch_hub_split(const std::string& repo_id,
                                         const std::optional<std::string>& config,
                                         const std::string& split, const HubSettings& settings);

}  // namespace utt
