// metrics.jsonl after a resume: the entries logged after the checkpoint are dropped, so the
// resumed run's own entries for those steps appear once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "obs/metrics_log.h"

namespace utt {
namespace {
namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(MetricsLog, EntriesAfterTheCheckpointAndACutLineAreDropped) {
  const fs::path path = fs::temp_directory_path() / ("utt_metrics_" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(path) << "{\"step\":5,\"loss\":6.1}\n"
                         "{\"step\":10,\"loss\":5.9}\n"
                         "{\"step\":10,\"val_loss\":5.8}\n"
                         "{\"step\":15,\"loss\":5.7}\n"
                         "{\"step\":20,\"lo";  // the line a kill cut short
  EXPECT_EQ(drop_metrics_after(path, 10), 2);
  EXPECT_EQ(read_all(path), "{\"step\":5,\"loss\":6.1}\n{\"step\":10,\"loss\":5.9}\n{\"step\":10,\"val_loss\":5.8}\n");
  EXPECT_EQ(drop_metrics_after(path, 10), 0);  // nothing more to drop: the file is left as it is
  {
    MetricsLog log(path);  // a resumed run appends after what is kept
    log.write({{"step", 15}, {"loss", 5.75}});
  }
  EXPECT_EQ(read_all(path), "{\"step\":5,\"loss\":6.1}\n{\"step\":10,\"loss\":5.9}\n{\"step\":10,\"val_loss\":5.8}\n"
                            "{\"loss\":5.75,\"step\":15}\n");
  fs::remove(path);
  EXPECT_EQ(drop_metrics_after(path, 10), 0);  // a missing file stays missing
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace utt
