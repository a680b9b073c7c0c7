#include "io/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "util/error.h"

namespace utt {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
}

// The `key = value` lines of `[section]` in an INI file such as ~/.aws/credentials.
std::map<std::string, std::string> ini_section(const std::string& path, const std::string& section) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      inside = trim(line.substr(1, line.size() - 2)) == section;
      continue;
    }
    const size_t equals = line.find('=');
    if (inside && equals != std::string::npos) values[trim(line.substr(0, equals))] = trim(line.substr(equals + 1));
  }
  return values;
}

}  // namespace

AwsCredentials find_aws_credentials() {
  const std::optional<std::string> key = environment("AWS_ACCESS_KEY_ID");
  const std::optional<std::string> secret = environment("AWS_SECRET_ACCESS_KEY");
  if (key && secret) return {*key, *secret, environment("AWS_SESSION_TOKEN").value_or("")};
  if (key || secret) {
    throw UserError(std::string("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together, but only ") +
                    (key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is set: set both, or neither to use " +
                    "~/.aws/credentials");
  }
  const std::string profile = environment("AWS_PROFILE").value_or("default");
  std::string file;
  if (auto shared = environment("AWS_SHARED_CREDENTIALS_FILE")) {
    file = *shared;
  } else if (auto home = environment("HOME")) {
    file = *home + "/.aws/credentials";
  }
  const std::map<std::string, std::string> values = file.empty() ? std::map<std::string, std::string>{}
                                                                  : ini_section(file, profile);
  const auto key_entry = values.find("aws_access_key_id");
  const auto secret_entry = values.find("aws_secret_access_key");
  if (key_entry != values.end() && secret_entry != values.end()) {
    const auto token = values.find("aws_session_token");
    return {key_entry->second, secret_entry->second, token == values.end() ? "" : token->second};
  }
  throw UserError("no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and " +
                  (file.empty() ? std::string("there is no HOME for ~/.aws/credentials")
                                : "profile [" + profile + "] of " + file + " has no aws_access_key_id and " +
                                      "aws_secret_access_key") +
                  ": set the variables, or AWS_PROFILE to a profile that has them");
}

std::string find_aws_region(const std::optional<std::string>& explicit_region) {
  if (explicit_region) return *explicit_region;
  if (auto region = environment("AWS_REGION")) return *region;
  if (auto region = environment("AWS_DEFAULT_REGION")) return *region;
  return "us-east-1";
}

std::optional<std::string> find_aws_endpoint(const std::optional<std::string>& explicit_endpoint) {
  if (explicit_endpoint) return explicit_endpoint;
  return environment("AWS_ENDPOINT_URL");
}

}  // namespace utt
