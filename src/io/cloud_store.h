// The object store a run's cloud flags name, with its credentials found where each provider's own
// tools look (never taken from a file utt writes, never printed):
//
//   s3     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else AWS_PROFILE of
//          ~/.aws/credentials (io/aws_credentials.h); region --cloud-region, AWS_REGION,
//          AWS_DEFAULT_REGION; endpoint --cloud-endpoint or AWS_ENDPOINT_URL (S3-compatible).
//   gcs    the XML API at https://storage.googleapis.com (or --cloud-endpoint): HMAC keys from
//          GOOGLE_ACCESS_KEY_ID / GOOGLE_SECRET_ACCESS_KEY (signed as SigV4, region
//          --cloud-region or "auto"), else an OAuth2 access token from GOOGLE_OAUTH_ACCESS_TOKEN
//          (sent as a Bearer token; `gcloud auth print-access-token` prints one).
//   azure  the account --azure-account-name, AZURE_STORAGE_ACCOUNT or the connection string's;
//          a SAS token from --azure-sas-token or AZURE_STORAGE_SAS_TOKEN, else the account key
//          AZURE_STORAGE_KEY (Shared Key), else AZURE_STORAGE_CONNECTION_STRING (its AccountKey or
//          SharedAccessSignature, and its BlobEndpoint); endpoint --cloud-endpoint, else the
//          connection string's, else https://ACCOUNT.blob.core.windows.net.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/object_store.h"

namespace utt {

struct CloudSettings {
  std::string provider;  // s3 | gcs | azure
  std::string bucket;    // the bucket, or Azure's container
  std::optional<std::string> region;
  std::optional<std::string> endpoint;
  std::optional<std::string> azure_account_name;
  std::optional<std::string> azure_sas_token;
};

// A checkpoint location written as a URL: s3://BUCKET/PATH, gs://BUCKET/PATH or
// az://ACCOUNT/CONTAINER/PATH (the form describe() gives each store).
struct CloudUrl {
  std::string provider;  // s3 | gcs | azure
  std::string account;   // azure only
  std::string bucket;
  std::string path;      // without leading or trailing '/'
};

// nullopt when `text` is no cloud URL (a local path); throws UserError for a cloud URL that
// lacks its bucket.
std::optional<CloudUrl> parse_cloud_url(const std::string& text);

// The store of `settings`, credentials found as above. Throws UserError naming what is missing
// (variable names, never values). Nothing is sent yet: see check_cloud_access.
std::unique_ptr<ObjectStore> open_cloud_store(const CloudSettings& settings);

// Lists `prefix` and writes and removes a small object under it, so that wrong credentials, a
// missing bucket or a read-only token are found before training starts. Throws the store's
// UserError.
void check_cloud_access(ObjectStore& store, const std::string& prefix);

// "prefix" with no leading or trailing '/', "" for none; keys are prefix + "/" + name.
std::string normalize_cloud_prefix(const std::string& prefix);

}  // namespace utt
