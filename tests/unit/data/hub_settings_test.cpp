// The Hub client's pure parts: environment variables as huggingface_hub reads them, and URL
// handling (redirect targets, hosts for the token rule, percent-encoding).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "data/http_client.h"
#include "data/hub_dataset.h"
#include "unit/data/data_test_util.h"

namespace utt::test {
namespace {

// Sets the Hub variables for one test and restores a clean slate after it.
class HubEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* home = std::getenv("HOME")) saved_home_ = home;
    clear();
  }
  void TearDown() override {
    clear();
    ::setenv("HOME", saved_home_.c_str(), 1);
  }
  std::string saved_home_;
  static void clear() {
    for (const char* name : {"HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                             "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE",
                             "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "XDG_CACHE_HOME"}) {
      ::unsetenv(name);
    }
  }
};

TEST_F(HubEnvironment, DefaultsFollowHuggingfaceHub) {
  ::setenv("HOME", "/home/someone", 1);
  const HubSettings settings = hub_settings_from_environment();
  EXPECT_EQ(settings.endpoint, "https://huggingface.co");
  EXPECT_EQ(settings.cache_dir, "/home/someone/.cache/huggingface/hub");
  EXPECT_FALSE(settings.offline);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(hub_settings_from_environment().cache_dir, "/xdg/huggingface/hub");
}

TEST_F(HubEnvironment, VariablesOverrideInHuggingfaceHubsOrder) {
  const std::string dir = make_scratch_dir("hub-env");
  write_file(dir + "/home/token", "  from-file-token\n");
  ::setenv("HF_HOME", (dir + "/home").c_str(), 1);
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:8080/", 1);
  HubSettings settings = hub_settings_from_environment();
  EXPECT_EQ(settings.endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(settings.cache_dir, dir + "/home/hub");
  EXPECT_EQ(settings.token, "from-file-token");
  ::setenv("HUGGING_FACE_HUB_TOKEN", "legacy", 1);
  EXPECT_EQ(hub_settings_from_environment().token, "legacy");
  ::setenv("HF_TOKEN", " new \n", 1);
  ::setenv("HF_HUB_CACHE", "/elsewhere", 1);
  settings = hub_settings_from_environment();
  EXPECT_EQ(settings.token, "new");
  EXPECT_EQ(settings.cache_dir, "/elsewhere");
  for (const char* value : {"1", "ON", "yes", "True"}) {
    ::setenv("HF_HUB_OFFLINE", value, 1);
    EXPECT_TRUE(hub_settings_from_environment().offline) << value;
  }
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  EXPECT_FALSE(hub_settings_from_environment().offline);
}

TEST(HttpClient, UrlsAreTakenApartAndEncodedAsTheHubExpects) {
  EXPECT_EQ(url_host("https://huggingface.co/api/datasets/x"), "huggingface.co");
  EXPECT_EQ(url_host("http://127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(resolve_location("https://a.org/datasets/x/resolve/main/f", "/datasets/y/resolve/main/f"),
            "https://a.org/datasets/y/resolve/main/f");
  EXPECT_EQ(resolve_location("https://a.org/x/y", "https://cdn.b.org/blob?sig=1"),
            "https://cdn.b.org/blob?sig=1");
  EXPECT_EQ(percent_encode("refs/convert/parquet", false), "refs%2Fconvert%2Fparquet");
  EXPECT_EQ(percent_encode("data/a b+c.parquet", true), "data/a%20b%2Bc.parquet");
}

}  // namespace
}  // namespace utt::test
