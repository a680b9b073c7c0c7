// An ObjectStore in an Azure Blob Storage container, authorized by a SAS token
// (--azure-account-name, --azure-sas-token) or by the account key (Shared Key: each request
// signed with HMAC-SHA256 of the key; io/cloud_store.h finds it in AZURE_STORAGE_KEY or a
// connection string): blobs are block blobs, written with Put Blob, or for files larger than one
// block with Put Block and Put Block List, so a blob appears only when complete. Uploads send
// Content-MD5 (Azure rejects a damaged body), downloads are checked against the blob's
// Content-MD5. Requests go through object_http.h (retries). Neither token nor key appears in a
// message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "io/object_http.h"
#include "io/object_store.h"

namespace utt {

struct AzureLocation {
  std::string account;
  std::string container;
  std::string sas_token;                // "sv=...&sig=..." (a leading '?' is dropped)
  std::string account_key;              // base64, as the portal shows it; used when no SAS token
  std::optional<std::string> endpoint;  // "http://127.0.0.1:10000/devstoreaccount1"; nullopt: Azure
  uint64_t block_bytes = uint64_t{64} << 20;  // put_file's block size (Azure: up to 50,000 blocks)
};

// Shared Key's string to sign for a request (headers "name: value", `path` the URL's path as
// sent, `query` as sent, percent-encoded); exposed for the tests.
std::string azure_shared_key_string_to_sign(const std::string& method, const std::vector<std::string>& headers,
                                            size_t content_length, const std::string& account,
                                            const std::string& path, const std::string& query);

class AzureStore : public ObjectStore {
 public:
  explicit AzureStore(AzureLocation location);
  void put(const std::string& key, std::string_view bytes) override;
  void put_file(const std::string& key, const std::filesystem::path& path) override;
  std::string get(const std::string& key) override;
  void get_file(const std::string& key, const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  std::string describe() const override { return "az://" + location_.account + "/" + location_.container; }

 private:
  // `key` empty: the container. `query` comes before the SAS token's parameters.
  ObjectHttpResponse send(const std::string& method, const std::string& key, const std::string& query,
                          std::string_view body, std::vector<std::string> headers,
                          const std::filesystem::path* download_to = nullptr);
  [[noreturn]] void fail(const std::string& what, const ObjectHttpResponse& response) const;

  AzureLocation location_;
  std::string account_key_;  // decoded; empty with a SAS token
  std::string base_;  // https://ACCOUNT.blob.core.windows.net, or the endpoint
};

}  // namespace utt
