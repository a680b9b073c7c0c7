#include "data/hub_dataset.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/dataset_card.h"
#include "data/dataset_files.h"
#include "data/http_client.h"
#include "data/row_reader.h"
#include "util/error.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace utt {
namespace {

constexpr int kDownloadAttempts = 4;
const std::string kParquetRevision = "refs/convert/parquet";

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

struct HubFile {
  std::string path;
  int64_t size = -1;
};

class HubRepo {
 public:
  HubRepo(std::string repo_id, const HubSettings& settings)
      : repo_id_(std::move(repo_id)), settings_(settings),
        folder_(fs::path(settings.cache_dir) / ("datasets--" + replace_slashes(repo_id_))) {}

  // The commit `revision` points to now, and that commit's files.
  std::string commit_of(const std::string& revision) {
    const HttpResponse r = get(settings_.endpoint + "/api/datasets/" + repo_id_ + "/revision/" +
                               percent_encode(revision, false));
    check_status(r, "revision " + revision);
    const std::string sha = parse(r.body).value("sha", "");
    if (sha.size() != 40) throw UserError("the Hub's answer for " + repo_id_ + " has no commit: is HF_ENDPOINT a Hugging Face Hub?");
    return sha;
  }

  std::vector<HubFile> list_files(const std::string& commit) {
    std::vector<HubFile> files;
    std::string url = settings_.endpoint + "/api/datasets/" + repo_id_ + "/tree/" + commit + "?recursive=true";
    while (!url.empty()) {
      const HttpResponse r = get(url);
      check_status(r, "file list");
      for (const auto& entry : parse(r.body)) {
        if (entry.value("type", "") != "file") continue;
        files.push_back({entry.value("path", ""), entry.value("size", int64_t{-1})});
      }
      url = next_page(r.header("link"));
    }
    return files;
  }

  // Downloads `path` at `commit` into the cache unless it is there; returns its snapshot path.
  std::string download(const std::string& commit, const HubFile& file) {
    const fs::path snapshot = folder_ / "snapshots" / commit / file.path;
    if (fs::exists(snapshot)) return snapshot.string();
    const std::string resolve_url = settings_.endpoint + "/datasets/" + repo_id_ + "/resolve/" +
                                    commit + "/" + percent_encode(file.path, true);
    // HEAD, following only same-host redirects (renamed repositories); a redirect to another
    // host is the content's real location (a CDN) and is fetched without the token.
    std::string url = resolve_url;
    HttpResponse head;
    for (int hop = 0; hop < 5; ++hop) {
      head = request("HEAD", url, std::nullopt, {});
      if (head.status >= 300 && head.status < 400 && url_host(resolve_location(url, head.header("location"))) == url_host(url)) {
        url = resolve_location(url, head.header("location"));
        continue;
      }
      break;
    }
    const bool redirected = head.status >= 300 && head.status < 400;
    if (!redirected) check_status(head, file.path);
    std::string etag = head.header("x-linked-etag");
    if (etag.empty()) etag = head.header("etag");
    if (starts_with(etag, "W/")) etag = etag.substr(2);
    if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
    if (etag.empty() || etag.find('/') != std::string::npos) {
      throw UserError("the Hub gave no usable ETag for " + file.path + " of " + repo_id_);
    }
    std::string size_text = head.header("x-linked-size");
    if (size_text.empty() && !redirected) size_text = head.header("content-length");
    const int64_t size = size_text.empty() ? file.size : parse_int(size_text, "Content-Length");
    const std::string content_url = redirected ? resolve_location(url, head.header("location")) : url;

    const fs::path blob = folder_ / "blobs" / etag;
    if (!fs::exists(blob)) {
      // One downloader per blob across processes (ranks on one machine share the cache), with
      // huggingface_hub's lock file, so both tools also wait for each other.
      const fs::path lock_path = fs::path(settings_.cache_dir) / ".locks" / folder_.filename() / (etag + ".lock");
      fs::create_directories(lock_path.parent_path());
      const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (lock >= 0) ::flock(lock, LOCK_EX);
      try {
        if (!fs::exists(blob)) fetch_blob(content_url, blob, size, etag, file.path);
      } catch (...) {
        if (lock >= 0) ::close(lock);
        throw;
      }
      if (lock >= 0) ::close(lock);
    }
    fs::create_directories(snapshot.parent_path());
    // Relative, as huggingface_hub makes them, so the cache can move.
    const fs::path target = blob.lexically_relative(snapshot.parent_path());
    // Made under a temporary name and renamed, so concurrent processes never collide.
    const fs::path temporary = snapshot.string() + ".tmp." + std::to_string(::getpid());
    fs::remove(temporary);
    std::error_code error;
    fs::create_symlink(target, temporary, error);
    if (error) fs::copy_file(blob, temporary, fs::copy_options::overwrite_existing);
    fs::rename(temporary, snapshot);
    return snapshot.string();
  }

  void write_ref(const std::string& revision, const std::string& commit) {
    const fs::path ref = folder_ / "refs" / revision;
    fs::create_directories(ref.parent_path());
    const fs::path temporary = ref.string() + ".tmp." + std::to_string(::getpid());
    std::ofstream(temporary) << commit;
    fs::rename(temporary, ref);
  }

  // Offline: the commit the cache last saw for `revision`, and the files of its snapshot.
  std::optional<std::string> cached_commit(const std::string& revision) const {
    std::ifstream in(folder_ / "refs" / revision);
    std::string commit;
    if (!(in >> commit) || !fs::is_directory(folder_ / "snapshots" / commit)) return std::nullopt;
    return commit;
  }
  std::vector<HubFile> cached_files(const std::string& commit) const {
    std::vector<HubFile> files;
    const fs::path root = folder_ / "snapshots" / commit;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (fs::is_regular_file(entry.path())) {  // follows the blob links
        files.push_back({entry.path().lexically_relative(root).string(), -1});
      }
    }
    return files;
  }
  std::string snapshot_path(const std::string& commit, const std::string& path) const {
    return (folder_ / "snapshots" / commit / path).string();
  }

 private:
  static std::string replace_slashes(std::string id) {
    for (size_t at = id.find('/'); at != std::string::npos; at = id.find('/', at)) id.replace(at, 1, "--");
    return id;
  }

  static nlohmann::json parse(const std::string& body) {
    try {
      return nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception&) {
      throw UserError("the Hub answered with something that is not JSON: is HF_ENDPOINT a Hugging Face Hub?");
    }
  }

  static std::string next_page(const std::string& link) {
    // Link: <https://...>; rel="next"
    const size_t rel = link.find("rel=\"next\"");
    if (rel == std::string::npos) return "";
    const size_t open = link.rfind('<', rel), close = link.find('>', open);
    if (open == std::string::npos || close == std::string::npos) return "";
    return link.substr(open + 1, close - open - 1);
  }

  HttpResponse request(const std::string& method, const std::string& url,
                       std::optional<std::string> append_to, std::map<std::string, std::string> headers) {
    HttpRequest request;
    request.method = method;
    request.url = url;
    request.headers = std::move(headers);
    request.headers["Accept-Encoding"] = "identity";
    if (settings_.token && url_host(url) == url_host(settings_.endpoint)) {
      request.headers["Authorization"] = "Bearer " + *settings_.token;
    }
    request.append_to_file = std::move(append_to);
    return http_request(request);
  }
  HttpResponse get(const std::string& url) { return request("GET", url, std::nullopt, {}); }

  void check_status(const HttpResponse& r, const std::string& what) const {
    if (r.status >= 200 && r.status < 300) return;
    if (r.status == 401) {
      throw UserError("dataset " + repo_id_ + " was not found (no such local path either) or needs "
                      "authentication (HTTP 401): " +
                      (settings_.token ? std::string("the token in HF_TOKEN was refused; check it")
                                       : std::string("if it is private or gated, set HF_TOKEN to an access token")));
    }
    if (r.status == 403) {
      throw UserError("access to dataset " + repo_id_ + " is denied (HTTP 403): accept its terms on the "
                      "Hub with the account of your HF_TOKEN");
    }
    if (r.status == 404) {
      const std::string code = r.header("x-error-code");
      if (code == "RepoNotFound" || code.empty()) {
        throw UserError("dataset " + repo_id_ + " not found on the Hub (HTTP 404) nor as a local "
                        "path: check --dataset-id");
      }
      throw UserError(what + " not found in dataset " + repo_id_ + " (" + code + ")");
    }
    throw UserError("the Hub answered HTTP " + std::to_string(r.status) + " for " + what + " of " +
                    repo_id_ + ": try again later, or set HF_HUB_OFFLINE=1 to use the local cache");
  }

  void fetch_blob(const std::string& url, const fs::path& blob, int64_t size,
                  const std::string& etag, const std::string& path) {
    fs::create_directories(blob.parent_path());
    const fs::path partial = blob.string() + ".incomplete";
    for (int attempt = 1;; ++attempt) {
      int64_t have = fs::exists(partial) ? static_cast<int64_t>(fs::file_size(partial)) : 0;
      if (size >= 0 && have == size) break;  // complete already (stopped before the rename)
      if (size >= 0 && have > size) {
        fs::remove(partial);
        have = 0;
      }
      std::map<std::string, std::string> headers;
      if (have > 0) headers["Range"] = "bytes=" + std::to_string(have) + "-";
      HttpResponse r;
      try {
        r = download_request(url, partial, headers, size, have, path);
      } catch (const UserError&) {
        // A dropped connection: what arrived stays in the .incomplete file; resume from there.
        if (attempt >= kDownloadAttempts) throw;
        continue;
      }
      if (have > 0 && r.status == 200) {
        // The server ignored the range and sent the whole file after our part: start over.
        fs::remove(partial);
        continue;
      }
      check_status(r, path);
      break;
    }
    const int64_t got = static_cast<int64_t>(fs::file_size(partial));
    if (size >= 0 && got != size) {
      fs::remove(partial);
      throw UserError("the download of " + path + " from " + repo_id_ + " has " + std::to_string(got) +
                      " bytes, not " + std::to_string(size) + ": run again to retry");
    }
    if (etag.size() == 64 && sha256_of(partial) != etag) {
      fs::remove(partial);
      throw UserError("the download of " + path + " from " + repo_id_ +
                      " does not match its sha256: run again to retry");
    }
    fs::rename(partial, blob);
  }

  HttpResponse download_request(const std::string& url, const fs::path& partial,
                                std::map<std::string, std::string> headers, int64_t size,
                                int64_t have, const std::string& path) {
    HttpRequest request;
    request.url = url;
    request.headers = std::move(headers);
    request.headers["Accept-Encoding"] = "identity";
    if (settings_.token && url_host(url) == url_host(settings_.endpoint)) {
      request.headers["Authorization"] = "Bearer " + *settings_.token;
    }
    request.append_to_file = partial.string();
    request.progress_total_bytes = size;
    request.progress_start_bytes = have;
    request.progress_label = path;
    return http_request(request);
  }

  static std::string sha256_of(const fs::path& file) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
    std::ifstream in(file, std::ios::binary);
    std::vector<char> buffer(1 << 20);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(in.gcount()));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context.get(), digest, &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
      char byte[3];
      std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
      hex += byte;
    }
    return hex;
  }

  std::string repo_id_;
  const HubSettings& settings_;
  fs::path folder_;
};

bool is_candidate(const std::string& path) {
  for (const fs::path& part : fs::path(path)) {
    const std::string name = part.string();
    if (!name.empty() && (name[0] == '.' || starts_with(name, "__"))) return false;
  }
  return is_supported_data_file(path);
}

std::optional<DatasetCard> read_card(const std::string& readme_path, const std::string& repo_id) {
  std::ifstream in(readme_path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  return parse_dataset_card(text, repo_id + "/README.md");
}

// The files of `split` by the repository's dataset card, when it declares configs with
// data_files (nullopt otherwise). `what_is_missing` finishes the message for a split whose
// patterns match nothing in `files` (offline, the files may just not be in the cache).
std::optional<std::vector<std::string>> pick_split_by_card(const DatasetCard& card, const std::vector<HubFile>& files,
                                                           const std::optional<std::string>& config,
                                                           const std::string& split, const std::string& repo_id,
                                                           const std::string& what_is_missing) {
  std::vector<std::string> relative;
  for (const HubFile& file : files) {
    if (is_candidate(file.path)) relative.push_back(file.path);
  }
  const std::optional<CardSplits> chosen = card_splits(card, config, relative, "dataset " + repo_id);
  if (!chosen) {
    check_config_is_declared(card, config, "dataset " + repo_id);
    return std::nullopt;
  }
  const std::optional<std::vector<std::string>> paths = find_split(chosen->splits, split);
  if (!paths) {
    throw UserError("split '" + split + "' not found in dataset " + repo_id + " (config '" + chosen->config +
                    "'): its dataset card declares " + describe_splits(chosen->splits));
  }
  if (paths->empty()) {
    throw UserError("split '" + split + "' of config '" + chosen->config + "' in dataset " + repo_id +
                    " matches no file " + what_is_missing);
  }
  return paths;
}

// The files of `split` among `files`: those under `prefix` (a config folder, or "" for the
// whole repository), assigned to splits by the Hub's naming rules. Empty when the listing
// holds no data files at all; UserError when it does but not for this split.
std::vector<std::string> pick_split(const std::vector<HubFile>& files, const std::string& prefix,
                                    const std::string& split, const std::string& repo_id) {
  std::vector<std::string> relative;
  for (const HubFile& file : files) {
    if (!starts_with(file.path, prefix) || !is_candidate(file.path)) continue;
    relative.push_back(file.path.substr(prefix.size()));
  }
  if (relative.empty()) return {};
  std::sort(relative.begin(), relative.end());
  auto splits = assign_splits(relative);
  // The Parquet conversion names a truncated split "partial-{split}".
  auto it = splits.find(split);
  if (it == splits.end()) it = splits.find(canonical_split_name(split));
  if (it == splits.end()) {
    throw UserError("split '" + split + "' not found in dataset " + repo_id +
                    ": the available splits are " + describe_splits(splits));
  }
  std::vector<std::string> paths;
  for (const std::string& path : it->second) paths.push_back(prefix + path);
  return paths;
}

}  // namespace

HubSettings hub_settings_from_environment() {
  HubSettings settings;
  if (auto endpoint = env("HF_ENDPOINT")) {
    settings.endpoint = *endpoint;
    while (!settings.endpoint.empty() && settings.endpoint.back() == '/') settings.endpoint.pop_back();
  }
  std::string home;
  if (auto value = env("HF_HOME")) {
    home = *value;
  } else if (auto xdg = env("XDG_CACHE_HOME")) {
    home = *xdg + "/huggingface";
  } else {
    home = env("HOME").value_or(".") + "/.cache/huggingface";
  }
  settings.cache_dir = env("HF_HUB_CACHE").value_or(env("HUGGINGFACE_HUB_CACHE").value_or(home + "/hub"));
  if (auto token = env("HF_TOKEN")) {
    settings.token = trim(*token);
  } else if (auto legacy = env("HUGGING_FACE_HUB_TOKEN")) {
    settings.token = trim(*legacy);
  } else {
    std::ifstream in(env("HF_TOKEN_PATH").value_or(home + "/token"));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (!trim(text).empty()) settings.token = trim(text);
  }
  if (settings.token && settings.token->empty()) settings.token.reset();
  for (const char* name : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"}) {
    const std::string value = to_lower(env(name).value_or(""));
    if (value == "1" || value == "on" || value == "yes" || value == "true") settings.offline = true;
  }
  return settings;
}

std::vector<std::string> fetch_hub_split(const std::string& repo_id,
                                         const std::optional<std::string>& config,
                                         const std::string& split, const HubSettings& settings) {
  HubRepo repo(repo_id, settings);
  const std::string prefix = config ? *config + "/" : "";
  // The Parquet conversion's layout: {config}/{split}/NNNN.parquet ("default" without configs).
  const std::string parquet_prefix = (config ? *config : std::string("default")) + "/";

  if (settings.offline) {
    for (const auto& [revision, folder] : {std::pair{std::string("main"), prefix},
                                           std::pair{kParquetRevision, parquet_prefix}}) {
      const auto commit = repo.cached_commit(revision);
      if (!commit) continue;
      const std::vector<HubFile> cached = repo.cached_files(*commit);
      if (revision == "main" && fs::is_regular_file(repo.snapshot_path(*commit, "README.md"))) {
        if (auto card = read_card(repo.snapshot_path(*commit, "README.md"), repo_id)) {
          const auto by_card = pick_split_by_card(*card, cached, config, split, repo_id,
                                                  "in the cache " + settings.cache_dir +
                                                      ", and HF_HUB_OFFLINE=1 forbids downloading: run once without it");
          if (by_card) {
            std::vector<std::string> local;
            for (const std::string& path : *by_card) local.push_back(repo.snapshot_path(*commit, path));
            return local;
          }
        }
      }
      const std::vector<std::string> paths = pick_split(cached, folder, split, repo_id);
      if (paths.empty()) continue;
      std::vector<std::string> local;
      for (const std::string& path : paths) local.push_back(repo.snapshot_path(*commit, path));
      return local;
    }
    throw UserError("dataset " + repo_id + " is not in the cache " + settings.cache_dir +
                    " and HF_HUB_OFFLINE=1 forbids downloading it: run once without "
                    "HF_HUB_OFFLINE, or point HF_HOME / HF_HUB_CACHE at a cache that has it");
  }

  for (const std::string& revision : {std::string("main"), kParquetRevision}) {
    const std::string commit = repo.commit_of(revision);
    const std::string& folder = revision == "main" ? prefix : parquet_prefix;
    const std::vector<HubFile> files = repo.list_files(commit);
    std::map<std::string, int64_t> sizes;
    for (const HubFile& file : files) sizes[file.path] = file.size;
    std::optional<std::vector<std::string>> by_card;
    if (revision == "main" && sizes.contains("README.md")) {
      // The card decides which files are which split, when it declares configs.
      if (auto card = read_card(repo.download(commit, {"README.md", sizes["README.md"]}), repo_id)) {
        by_card = pick_split_by_card(*card, files, config, split, repo_id, "in the repository: check its card");
      }
    }
    const std::vector<std::string> paths = by_card ? *by_card : pick_split(files, folder, split, repo_id);
    if (paths.empty()) continue;  // no data files (a script dataset): try the conversion
    std::vector<std::string> local;
    for (const std::string& path : paths) local.push_back(repo.download(commit, {path, sizes[path]}));
    repo.write_ref(revision, commit);
    return local;
  }
  throw UserError("dataset " + repo_id + " has no data files utt can read" +
                  (config ? " in config '" + *config + "'" : std::string()) +
                  " and no Parquet conversion: check --dataset-config");
}

}  // namespace utt
