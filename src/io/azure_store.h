// An ObjectStore in an Azure Blob Storage container, authorized by a SAS token
// (--azure-account-name, --azure-sas-token): blobs are block blobs, written with Put Blob, or for
// files larger than one block with Put Block and Put Block List, so a blob appears only when
// complete. Uploads send Content-MD5 (Azure rejects a damaged body), downloads are checked
// against the blob's Content-MD5. Requests go through object_http.h (retries). The SAS token
// appears in no message.
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
  std::optional<std::string> endpoint;  // "http://127.0.0.1:10000/devstoreaccount1"; nullopt: Azure
  uint64_t block_bytes = uint64_t{64} << 20;  // put_file's block size (Azure: up to 50,000 blocks)
};

class AzureStore : public ObjectStore {
 public:
  explicit AzureStore(AzureLocation location);
  void put(const std::string& key, std::string_view bytes) override;
  void put_file(const std::string& key, const std::filesystem::path& path) override;
  std::string get(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  std::string describe() const override { return "az://" + location_.account + "/" + location_.container; }

 private:
  // `key` empty: the container. `query` comes before the SAS token's parameters.
  ObjectHttpResponse send(const std::string& method, const std::string& key, const std::string& query,
                          std::string_view body, std::vector<std::string> headers);
  [[noreturn]] void fail(const std::string& what, const ObjectHttpResponse& response) const;

  AzureLocation location_;
  std::string base_;  // https://ACCOUNT.blob.core.windows.net, or the endpoint
};

}  // namespace utt
