// Where S3 credentials, region and endpoint come from, in the order the AWS tools use:
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the profile
// AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
#pragma once

#include <optional>
#include <string>

#include "io/aws_sigv4.h"

namespace utt {

// Throws UserError naming every place looked at when none holds credentials (never a secret).
AwsCredentials find_aws_credentials();

// `explicit_region` (--cloud-region), else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
std::string find_aws_region(const std::optional<std::string>& explicit_region);

// `explicit_endpoint` (--cloud-endpoint), else AWS_ENDPOINT_URL; nullopt: AWS itself.
std::optional<std::string> find_aws_endpoint(const std::optional<std::string>& explicit_endpoint);

}  // namespace utt
