// Datasets from the Hub, against a local stand-in (tests/data/fake_hub.mjs) on 127.0.0.1:
// listing, downloading into huggingface_hub's cache layout, a redirect to a CDN, a gated
// repository, a connection dropped mid-file, and offline mode.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {
namespace {

namespace fs = std::filesystem;

// Runs the fake Hub for the lifetime of the object.
class FakeHub {
 public:
  FakeHub() {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      const std::string script = source_dir() + "/tests/data/fake_hub.mjs";
      const std::string modules = source_dir() + "/tests/tools/node_modules";
      ::execlp("node", "node", script.c_str(), modules.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::FILE* out = ::fdopen(pipe_fds[0], "r");
    int port = 0;
    if (out != nullptr && std::fscanf(out, "%d", &port) == 1) endpoint_ = "http://127.0.0.1:" + std::to_string(port);
    if (out != nullptr) std::fclose(out);
  }
  ~FakeHub() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
};

// `utt data stats` with only the Hub variables given here (none inherited).
RunResult stats(const std::vector<std::string>& env, const std::vector<std::string>& args,
                const std::string& cwd) {
  std::vector<std::string> full = {"-u", "HF_TOKEN", "-u", "HUGGING_FACE_HUB_TOKEN", "-u",
                                   "HF_HUB_OFFLINE", "-u", "HF_HUB_CACHE", "-u", "HF_ENDPOINT"};
  full.insert(full.end(), env.begin(), env.end());
  full.push_back(utt_binary());
  full.push_back("data");
  full.push_back("stats");
  full.insert(full.end(), args.begin(), args.end());
  return run_program("/usr/bin/env", full, cwd);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Hub, DownloadsASplitIntoTheHubCacheLayoutAndReadsIt) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty())
      << "the fake Hub did not start: it needs node and tests/tools/node_modules "
         "(scripts/setup --tests, or npm ci in tests/tools)";
  const std::string dir = scratch_dir("hub-plain");
  const std::vector<std::string> env = {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"};
  const RunResult r = stats(env, {"--dataset-id", "org/plain"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "documents: 70\n")) << r.out;
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  const fs::path repo = dir + "/hf/hub/datasets--org--plain";
  const fs::path snapshot = repo / "snapshots" / std::string(40, 'a') / "data";
  EXPECT_TRUE(fs::is_symlink(snapshot / "train-00001-of-00002.jsonl"));
  EXPECT_TRUE(fs::exists(snapshot / "train-00001-of-00002.jsonl"));
  EXPECT_FALSE(fs::exists(snapshot / "validation-00000-of-00001.jsonl"));  // not asked for
  std::ifstream ref(repo / "refs" / "main");
  std::string commit;
  ref >> commit;
  EXPECT_EQ(commit, std::string(40, 'a'));
  const RunResult v = stats(env, {"--dataset-id", "org/plain", "--split", "validation"}, dir);
  EXPECT_TRUE(contains(v.out, "documents: 7\n")) << v.err;
  const RunResult bad = stats(env, {"--dataset-id", "org/plain", "--split", "test"}, dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "the available splits are train, validation")) << bad.err;
}

TEST(Hub, OfflineModeUsesAWarmCacheAndExplainsAColdOne) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-offline");
  const std::string home = "HF_HOME=" + dir + "/hf";
  ASSERT_EQ(stats({"HF_ENDPOINT=" + hub.endpoint(), home}, {"--dataset-id", "org/plain"}, dir).exit_code, 0);
  // An endpoint nothing listens on: offline mode must not need it.
  const RunResult warm = stats({"HF_ENDPOINT=http://127.0.0.1:9", home, "HF_HUB_OFFLINE=1"},
                               {"--dataset-id", "org/plain"}, dir);
  EXPECT_EQ(warm.exit_code, 0) << warm.err;
  EXPECT_TRUE(contains(warm.out, "documents: 70\n"));
  const RunResult cold = stats({"HF_ENDPOINT=http://127.0.0.1:9", "HF_HOME=" + dir + "/empty", "HF_HUB_OFFLINE=1"},
                               {"--dataset-id", "org/plain"}, dir);
  EXPECT_EQ(cold.exit_code, 2);
  EXPECT_TRUE(contains(cold.err, "HF_HUB_OFFLINE")) << cold.err;
}

TEST(Hub, ADatasetCardDecidesConfigsSplitsAndFilesOnlineAndOffline) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-card");
  const std::vector<std::string> env = {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"};
  // The card's default config "chat": 12 + 8 rows of globbed Parquet in its split train_sft.
  RunResult r = stats(env, {"--dataset-id", "org/carded", "--split", "train_sft"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "documents: 20\n")) << r.out;
  r = stats(env, {"--dataset-id", "org/carded", "--split", "test_sft"}, dir);
  EXPECT_TRUE(contains(r.out, "documents: 5\n")) << r.out << r.err;
  // The other config: raw/**/*.jsonl reaches into nested folders.
  r = stats(env, {"--dataset-id", "org/carded", "--dataset-config", "raw"}, dir);
  EXPECT_TRUE(contains(r.out, "documents: 10\n")) << r.out << r.err;
  r = stats(env, {"--dataset-id", "org/carded", "--dataset-config", "nope"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "its dataset card declares chat, raw")) << r.err;
  r = stats(env, {"--dataset-id", "org/carded", "--split", "validation"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "its dataset card declares test_sft, train_sft")) << r.err;
  // Offline, from the huggingface_hub cache the runs above filled (README.md included).
  const std::vector<std::string> offline = {"HF_ENDPOINT=http://127.0.0.1:9", "HF_HOME=" + dir + "/hf", "HF_HUB_OFFLINE=1"};
  r = stats(offline, {"--dataset-id", "org/carded", "--split", "train_sft"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "documents: 20\n")) << r.out;
  r = stats(offline, {"--dataset-id", "org/carded", "--dataset-config", "raw"}, dir);
  EXPECT_TRUE(contains(r.out, "documents: 10\n")) << r.out << r.err;
}

TEST(Hub, AGatedDatasetNeedsHfTokenWhichIsNeverPrinted) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-gated");
  const std::vector<std::string> env = {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"};
  const RunResult no_token = stats(env, {"--dataset-id", "org/gated"}, dir);
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_TRUE(contains(no_token.err, "set HF_TOKEN")) << no_token.err;
  std::vector<std::string> wrong = env;
  wrong.push_back("HF_TOKEN=wrong-token");
  const RunResult refused = stats(wrong, {"--dataset-id", "org/gated"}, dir);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_FALSE(contains(refused.err, "wrong-token")) << refused.err;
  std::vector<std::string> right = env;
  right.push_back("HF_TOKEN=secret-token");
  const RunResult ok = stats(right, {"--dataset-id", "org/gated"}, dir);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;  // also: the CDN refuses requests carrying the token
  EXPECT_TRUE(contains(ok.out, "documents: 5\n"));
  EXPECT_FALSE(contains(ok.out + ok.err, "secret-token"));
}

TEST(Hub, ADroppedConnectionIsResumedAndTheContentChecked) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-dropped");
  const RunResult r = stats({"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"},
                            {"--dataset-id", "org/dropped"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "documents: 4000\n")) << r.out;
  for (const auto& entry : fs::recursive_directory_iterator(dir + "/hf")) {
    EXPECT_NE(entry.path().extension(), ".incomplete") << "left behind: " << entry.path();
  }
}

TEST(Hub, ADatasetWithoutDataFilesIsReadFromItsParquetConversion) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-converted");
  const std::vector<std::string> env = {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"};
  const RunResult train = stats(env, {"--dataset-id", "org/scripted"}, dir);
  EXPECT_EQ(train.exit_code, 0) << train.err;
  EXPECT_TRUE(contains(train.out, "documents: 25\n")) << train.out;
  const RunResult validation = stats(env, {"--dataset-id", "org/scripted", "--split", "validation"}, dir);
  EXPECT_TRUE(contains(validation.out, "documents: 4\n")) << validation.err;
  EXPECT_TRUE(fs::exists(dir + "/hf/hub/datasets--org--scripted/refs/refs/convert/parquet"));
}

TEST(Hub, TwoProcessesDownloadingTheSameFileShareOneDownload) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-concurrent");
  const std::string command =
      "export HF_ENDPOINT=" + hub.endpoint() + " HF_HOME=" + dir + "/hf; unset HF_TOKEN HF_HUB_OFFLINE; " +
      utt_binary() + " data stats --dataset-id org/dropped > a.txt 2>&1 & " + utt_binary() +
      " data stats --dataset-id org/dropped > b.txt 2>&1; wait $!";
  const RunResult r = run_program("/bin/sh", {"-c", command}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"/a.txt", "/b.txt"}) {
    std::ifstream in(dir + name);
    const std::string out((std::istreambuf_iterator<char>(in)), {});
    EXPECT_TRUE(contains(out, "documents: 4000\n")) << name << ": " << out;
  }
}

TEST(Hub, AProgressBarIsDrawnOnATerminal) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a terminal";
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-progress");
  const std::string command = "export HF_ENDPOINT=" + hub.endpoint() + " HF_HOME=" + dir +
                              "/hf; unset HF_TOKEN HF_HUB_OFFLINE; script -qec '" + utt_binary() +
                              " data stats --dataset-id org/plain' /dev/null";
  const RunResult r = run_program("/bin/sh", {"-c", command}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "data/train-00001-of-00002.jsonl [")) << r.out;
  EXPECT_TRUE(contains(r.out, "] 100%")) << r.out;
}

TEST(Hub, AnUnknownDatasetIsA404Message) {
  FakeHub hub;
  ASSERT_FALSE(hub.endpoint().empty());
  const std::string dir = scratch_dir("hub-404");
  const RunResult r = stats({"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + dir + "/hf"},
                            {"--dataset-id", "someone/nothing"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "not found on the Hub (HTTP 404)")) << r.err;
}

}  // namespace
}  // namespace utt::test
