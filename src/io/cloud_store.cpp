#include "io/cloud_store.h"

#include <unistd.h>

#include <cstdlib>
#include <map>

#include "io/aws_credentials.h"
#include "io/azure_store.h"
#include "io/s3_store.h"
#include "util/error.h"

namespace utt {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// "Name=value;Name=value" (Azure's connection strings; a value may hold '=', as base64 does).
std::map<std::string, std::string> connection_string_fields(const std::string& text) {
  std::map<std::string, std::string> fields;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(';', begin);
    if (end == std::string::npos) end = text.size();
    const std::string field = text.substr(begin, end - begin);
    const size_t equals = field.find('=');
    if (equals != std::string::npos) fields[field.substr(0, equals)] = field.substr(equals + 1);
    begin = end + 1;
  }
  return fields;
}

std::unique_ptr<ObjectStore> open_s3(const CloudSettings& settings) {
  S3Location location;
  location.bucket = settings.bucket;
  location.region = find_aws_region(settings.region);
  location.endpoint = find_aws_endpoint(settings.endpoint);
  return std::make_unique<S3Store>(location, find_aws_credentials());
}

std::unique_ptr<ObjectStore> open_gcs(const CloudSettings& settings) {
  S3Location location;
  location.bucket = settings.bucket;
  location.scheme = "gs";
  // GCS's XML API takes SigV4 from HMAC keys with any region name; "auto" is its own.
  location.region = settings.region.value_or("auto");
  location.endpoint = settings.endpoint.value_or("https://storage.googleapis.com");
  const std::optional<std::string> key_id = environment("GOOGLE_ACCESS_KEY_ID");
  const std::optional<std::string> secret = environment("GOOGLE_SECRET_ACCESS_KEY");
  if (key_id && secret) {
    location.credentials_hint =
        "check GOOGLE_ACCESS_KEY_ID and GOOGLE_SECRET_ACCESS_KEY (an HMAC key of a service account with access to "
        "the bucket)";
    return std::make_unique<S3Store>(location, AwsCredentials{*key_id, *secret, ""});
  }
  if (const std::optional<std::string> token = environment("GOOGLE_OAUTH_ACCESS_TOKEN")) {
    location.credentials_hint =
        "check GOOGLE_OAUTH_ACCESS_TOKEN (tokens expire after an hour: `gcloud auth print-access-token` prints a "
        "new one) and the bucket's permissions";
    return std::make_unique<S3Store>(location, BearerToken{*token});
  }
  throw UserError(
      "--cloud-provider gcs found no credentials: set GOOGLE_ACCESS_KEY_ID and GOOGLE_SECRET_ACCESS_KEY (an HMAC "
      "key), or GOOGLE_OAUTH_ACCESS_TOKEN (an OAuth2 access token)");
}

std::unique_ptr<ObjectStore> open_azure(const CloudSettings& settings) {
  std::map<std::string, std::string> connection;
  if (const std::optional<std::string> text = environment("AZURE_STORAGE_CONNECTION_STRING")) {
    connection = connection_string_fields(*text);
  }
  AzureLocation location;
  location.container = settings.bucket;
  location.account = settings.azure_account_name.value_or(
      environment("AZURE_STORAGE_ACCOUNT").value_or(connection.count("AccountName") ? connection["AccountName"] : ""));
  if (location.account.empty()) {
    throw UserError(
        "--cloud-provider azure needs the storage account: --azure-account-name NAME (or AZURE_STORAGE_ACCOUNT, or "
        "AZURE_STORAGE_CONNECTION_STRING)");
  }
  const bool connection_for_account = !connection.empty() && (!connection.count("AccountName") ||
                                                              connection["AccountName"] == location.account);
  if (settings.azure_sas_token) {
    location.sas_token = *settings.azure_sas_token;
  } else if (const std::optional<std::string> sas = environment("AZURE_STORAGE_SAS_TOKEN")) {
    location.sas_token = *sas;
  } else if (const std::optional<std::string> key = environment("AZURE_STORAGE_KEY")) {
    location.account_key = *key;
  } else if (connection_for_account && connection.count("AccountKey")) {
    location.account_key = connection["AccountKey"];
  } else if (connection_for_account && connection.count("SharedAccessSignature")) {
    location.sas_token = connection["SharedAccessSignature"];
  } else {
    throw UserError(
        "--cloud-provider azure found no credentials for the account " + location.account +
        ": give --azure-sas-token TOKEN (or AZURE_STORAGE_SAS_TOKEN), or set AZURE_STORAGE_KEY (the account key) or "
        "AZURE_STORAGE_CONNECTION_STRING");
  }
  if (settings.endpoint) {
    location.endpoint = settings.endpoint;
  } else if (connection_for_account && connection.count("BlobEndpoint")) {
    location.endpoint = connection["BlobEndpoint"];
  } else if (connection_for_account && connection.count("EndpointSuffix")) {
    const std::string protocol =
        connection.count("DefaultEndpointsProtocol") ? connection["DefaultEndpointsProtocol"] : "https";
    location.endpoint = protocol + "://" + location.account + ".blob." + connection["EndpointSuffix"];
  }
  return std::make_unique<AzureStore>(location);
}

}  // namespace

std::optional<CloudUrl> parse_cloud_url(const std::string& text) {
  static const std::pair<const char*, const char*> kSchemes[] = {{"s3://", "s3"}, {"gs://", "gcs"}, {"az://", "azure"}};
  for (const auto& [scheme, provider] : kSchemes) {
    if (text.rfind(scheme, 0) != 0) continue;
    CloudUrl url;
    url.provider = provider;
    std::string rest = text.substr(std::string(scheme).size());
    if (url.provider == "azure") {
      const size_t slash = rest.find('/');
      url.account = rest.substr(0, slash);
      rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
    }
    const size_t slash = rest.find('/');
    url.bucket = rest.substr(0, slash);
    url.path = normalize_cloud_prefix(slash == std::string::npos ? "" : rest.substr(slash + 1));
    if (url.bucket.empty() || (url.provider == "azure" && url.account.empty())) {
      throw UserError("'" + text + "' names no " + (url.provider == "azure" ? "account and container" : "bucket") +
                      ": write " +
                      (url.provider == "azure" ? "az://ACCOUNT/CONTAINER/PREFIX/latest" : std::string(scheme) + "BUCKET/PREFIX/latest"));
    }
    return url;
  }
  return std::nullopt;
}

std::unique_ptr<ObjectStore> open_cloud_store(const CloudSettings& settings) {
  if (settings.provider == "s3") return open_s3(settings);
  if (settings.provider == "gcs") return open_gcs(settings);
  if (settings.provider == "azure") return open_azure(settings);
  throw UserError("unknown cloud provider '" + settings.provider + "': use s3, gcs or azure");
}

void check_cloud_access(ObjectStore& store, const std::string& prefix) {
  store.list(prefix.empty() ? "" : prefix + "/");
  const std::string probe = (prefix.empty() ? "" : prefix + "/") + ".utt-access-check-" + std::to_string(::getpid());
  store.put(probe, "utt checks that it may write here before training\n");
  store.remove(probe);
}

std::string normalize_cloud_prefix(const std::string& prefix) {
  size_t begin = prefix.find_first_not_of('/');
  if (begin == std::string::npos) return "";
  size_t end = prefix.find_last_not_of('/');
  return prefix.substr(begin, end - begin + 1);
}

}  // namespace utt
