#include "e2e/trained_models.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {
namespace fs = std::filesystem;
namespace {

uint64_t fnv1a(const std::string& text, uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

// Holds an exclusive flock on a file while alive.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

// The training flags every fixture shares: a slice of the corpus, a model of ~100k parameters.
std::vector<std::string> common_flags() {
  return {"--dataset-id", demo_corpus(), "--val-split", "validation", "--max-train-examples", "30",
          "--max-val-examples", "2", "--d-model", "64", "--num-layers", "2", "--num-heads", "4",
          "--d-ff", "160", "--seq-len", "48", "--batch-size", "4", "--learning-rate", "5e-3",
          "--warmup-steps", "15", "--max-steps", "150", "--log-every", "50", "--eval-every", "150",
          "--eval-batches", "2", "--save-every", "1000", "--seed", "11", "--threads", "2",
          "--dropout-rate", "0"};
}

}  // namespace

std::string demo_corpus() {
  const std::string dir = source_dir() + "/data/sotu";
  EXPECT_TRUE(fs::exists(dir + "/train.jsonl"))
      << "the demo corpus is missing: run scripts/setup --corpus (scripts/test does)";
  return dir;
}

std::string trained_model(const std::string& name, const std::vector<std::string>& flags) {
  std::error_code error;
  const fs::path binary = utt_binary();
  std::string key = std::to_string(fs::file_size(binary, error)) + ":" +
                    std::to_string(fs::last_write_time(binary, error).time_since_epoch().count());
  for (const std::string& flag : flags) key += "\n" + flag;
  const fs::path root = fs::path(binary_dir()) / "test-models";
  fs::create_directories(root);
  const fs::path dir = root / (name + "-" + std::to_string(fnv1a(key) % 1000000007ULL));
  FileLock lock((root / (name + ".lock")).string());
  if (fs::exists(dir / "final_checkpoint" / "model.safetensors")) return dir.string();

  const fs::path staging = root / (name + ".partial");
  fs::remove_all(staging);
  std::vector<std::string> args = {"train"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"--output-dir", (staging / "out").string()});
  const RunResult r = run_utt(args, staging.string());
  if (r.exit_code != 0) {
    ADD_FAILURE() << "training the " << name << " test model failed:\n" << r.err << r.out;
    return "";
  }
  // Earlier versions of this model are not needed any more.
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string other = entry.path().filename().string();
    if (entry.is_directory() && other.rfind(name + "-", 0) == 0) fs::remove_all(entry.path(), error);
  }
  fs::rename(staging / "out", dir);
  fs::remove_all(staging);
  return dir.string();
}

std::string trained_llama() {
  std::vector<std::string> flags = common_flags();
  flags.insert(flags.end(), {"--vocab-size", "600", "--num-kv-heads", "2", "--no-tie-embeddings"});
  return trained_model("llama", flags);
}

std::string trained_gpt2() {
  // A tokenizer with GPT-2's pre-tokenization pattern (llama.cpp's "gpt-2"), trained first.
  const fs::path root = fs::path(binary_dir()) / "test-models";
  fs::create_directories(root);
  const fs::path tokenizer = root / "gpt2-tokenizer.json";
  {
    FileLock lock((root / "gpt2-tokenizer.lock").string());
    if (!fs::exists(tokenizer)) {
      const RunResult r = run_utt({"tokenizer", "train", "--input", demo_corpus() + "/validation.jsonl", "--vocab-size",
                                   "500", "--pretokenizer", "gpt2", "--output", tokenizer.string()},
                                  root.string());
      if (r.exit_code != 0) {
        ADD_FAILURE() << "training the GPT-2 test tokenizer failed:\n" << r.err << r.out;
        return "";
      }
    }
  }
  std::vector<std::string> flags = common_flags();
  flags.insert(flags.end(), {"--tokenizer-path", tokenizer.string(), "--no-rmsnorm", "--no-swiglu", "--no-rope",
                             "--activation", "gelu", "--d-ff", "256"});
  return trained_model("gpt2", flags);
}

}  // namespace utt::test
