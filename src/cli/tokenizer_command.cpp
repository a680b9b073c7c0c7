// `utt tokenizer`: train a byte-level BPE tokenizer, encode, decode, and measure one.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/command_flags.h"
#include "cli/commands.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/document_reader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text.h"

namespace utt {
namespace {

const char* const kTokenizerHelp =
    "utt tokenizer - train and use byte-level BPE tokenizers (Hugging Face tokenizer.json)\n"
    "\n"
    "Usage: utt tokenizer train --input FILE... --vocab-size N --output PATH\n"
    "                           [--pretokenizer cl100k|gpt2] [--text-column C] [--threads N]\n"
    "       utt tokenizer encode --tokenizer PATH [--input FILE]\n"
    "       utt tokenizer decode --tokenizer PATH [--input FILE]\n"
    "       utt tokenizer stats --tokenizer PATH --input FILE... [--text-column C]\n"
    "\n"
    "Inputs: .txt files hold one document per line; .jsonl files one JSON object per line,\n"
    "the text in --text-column (default \"text\").\n"
    "encode prints the ids of each input line, space-separated, one line per line (stdin\n"
    "when no --input); decode turns such lines back into text.\n"
    "\n"
    "Example:\n"
    "  utt tokenizer train --input data/sotu/train.jsonl --vocab-size 16000 --output tok.json\n";

const char* const kTrainHelp =
    "utt tokenizer train - train a byte-level BPE tokenizer and write its tokenizer.json\n"
    "\n"
    "Usage: utt tokenizer train --input FILE... --vocab-size N --output PATH\n"
    "                           [--pretokenizer cl100k|gpt2] [--text-column C] [--threads N]\n"
    "\n"
    "  --input FILE...     .txt (one document per line) or .jsonl files\n"
    "  --vocab-size N      all ids: 256 bytes + merges + <|endoftext|> + <|pad|> (>= 258)\n"
    "  --output PATH       where to write tokenizer.json\n"
    "  --pretokenizer P    cl100k (default; Llama-3 style) or gpt2\n"
    "  --text-column C     the field of .jsonl rows holding the text (default text)\n"
    "  --threads N         threads for counting (default: every core)\n";

const char* const kEncodeHelp =
    "utt tokenizer encode - print the token ids of each input line\n"
    "\n"
    "Usage: utt tokenizer encode --tokenizer PATH [--input FILE]\n"
    "\n"
    "Reads stdin when no --input is given; prints one line of space-separated ids per line.\n";

const char* const kDecodeHelp =
    "utt tokenizer decode - turn lines of space-separated ids back into text\n"
    "\n"
    "Usage: utt tokenizer decode --tokenizer PATH [--input FILE]\n";

const char* const kStatsHelp =
    "utt tokenizer stats - how well a tokenizer compresses a corpus, and how fast it encodes\n"
    "\n"
    "Usage: utt tokenizer stats --tokenizer PATH --input FILE... [--text-column C]\n"
    "\n"
    "Prints documents, bytes, tokens, bytes_per_token, encode_seconds and encode_mb_per_s\n"
    "as `name: value` lines.\n";

int thread_count(const CommandFlags& flags) {
  if (!flags.has("threads")) return 0;
  const int64_t threads = parse_int(flags.get("threads"), "--threads");
  if (threads < 1 || threads > 1024) throw UserError("--threads must be between 1 and 1024");
  return static_cast<int>(threads);
}

std::string read_all(const CommandFlags& flags) {
  if (!flags.has("input")) {
    std::stringstream text;
    text << std::cin.rdbuf();
    return text.str();
  }
  const std::string path = flags.get("input");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read input file " + path + ": check the path");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Runs work(i) for i in [0, count) over every core.
template <typename Work>
void parallel_for(size_t count, Work&& work) {
  const size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < count; i = next++) work(i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
}

int run_train_tokenizer(const CommandFlags& flags) {
  const std::string output = flags.required("output");
  const std::string vocab_text = flags.required("vocab-size");
  flags.required("input");
  BpeTrainOptions options;
  const int64_t vocab = parse_count(vocab_text, "--vocab-size");
  if (vocab < kMinVocabSize || vocab > (1 << 24)) {
    throw UserError(fmt::format("--vocab-size {} is out of range: it must hold the 256 byte "
                                "tokens and 2 special tokens (at least {})", vocab, kMinVocabSize));
  }
  options.vocab_size = static_cast<uint32_t>(vocab);
  options.pretokenizer = parse_pretokenizer_kind(flags.get("pretokenizer", "cl100k"));
  options.threads = thread_count(flags);
  // Checked before training, which can take minutes, rather than when saving.
  const std::filesystem::path output_dir = std::filesystem::absolute(output).parent_path();
  if (!std::filesystem::is_directory(output_dir)) {
    throw UserError("cannot write " + output + ": the directory " + output_dir.string() +
                    " does not exist");
  }
  DocumentReader reader(flags.list("input"), flags.get("text-column", "text"));
  const auto start = std::chrono::steady_clock::now();
  const Tokenizer tokenizer =
      train_bpe([&](std::string_view& document) { return reader.next(document); }, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tokenizer.save(output);
  fmt::print("trained a {}-token {} tokenizer on {} documents ({}) in {:.2f} s: {}\n",
             with_thousands(tokenizer.vocab_size()), pretokenizer_name(options.pretokenizer),
             with_thousands(static_cast<int64_t>(reader.documents())),
             human_bytes(static_cast<double>(reader.bytes())), seconds, output);
  return 0;
}

int run_encode(const CommandFlags& flags) {
  const Tokenizer tokenizer = Tokenizer::load(flags.required("tokenizer"));
  const std::string text = read_all(flags);
  const std::vector<std::string_view> lines = split_lines(text);
  std::vector<std::string> printed(lines.size());
  parallel_for(lines.size(), [&](size_t i) {
    const std::vector<uint32_t> ids = tokenizer.encode(lines[i]);
    std::string& out = printed[i];
    for (size_t k = 0; k < ids.size(); ++k) {
      if (k > 0) out += ' ';
      out += std::to_string(ids[k]);
    }
    out += '\n';
  });
  for (const std::string& line : printed) std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

int run_decode(const CommandFlags& flags) {
  const Tokenizer tokenizer = Tokenizer::load(flags.required("tokenizer"));
  const std::string text = read_all(flags);
  size_t line_number = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_number;
    std::vector<uint32_t> ids;
    size_t start = 0;
    while (start < line.size()) {
      while (start < line.size() && (line[start] == ' ' || line[start] == '\r')) ++start;
      size_t end = start;
      while (end < line.size() && line[end] != ' ' && line[end] != '\r') ++end;
      if (end == start) break;
      const std::string word(line.substr(start, end - start));
      ids.push_back(static_cast<uint32_t>(parse_int(word, fmt::format("token id on line {}", line_number))));
      if (word.starts_with('-')) throw UserError(fmt::format("line {}: token ids are >= 0", line_number));
      start = end;
    }
    std::string decoded = tokenizer.decode(ids);
    decoded += '\n';
    std::fwrite(decoded.data(), 1, decoded.size(), stdout);
  }
  return 0;
}

int run_stats(const CommandFlags& flags) {
  const Tokenizer tokenizer = Tokenizer::load(flags.required("tokenizer"));
  flags.required("input");
  DocumentReader reader(flags.list("input"), flags.get("text-column", "text"));
  std::vector<std::string> documents;
  std::string_view document;
  while (reader.next(document)) documents.emplace_back(document);
  if (documents.empty()) throw UserError("the input holds no documents");
  std::vector<uint64_t> tokens(documents.size());
  const auto start = std::chrono::steady_clock::now();
  parallel_for(documents.size(), [&](size_t i) {
    std::vector<uint32_t> ids;
    tokenizer.encode(documents[i], ids);
    tokens[i] = ids.size();
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t total_tokens = 0;
  for (uint64_t count : tokens) total_tokens += count;
  const auto bytes = static_cast<double>(reader.bytes());
  fmt::print("documents: {}\n", reader.documents());
  fmt::print("bytes: {}\n", reader.bytes());
  fmt::print("tokens: {}\n", total_tokens);
  fmt::print("bytes_per_token: {:.4f}\n", total_tokens == 0 ? 0.0 : bytes / static_cast<double>(total_tokens));
  fmt::print("vocab_size: {}\n", tokenizer.vocab_size());
  fmt::print("encode_seconds: {:.4f}\n", seconds);
  fmt::print("encode_mb_per_s: {:.2f}\n", bytes / 1e6 / std::max(seconds, 1e-9));
  return 0;
}

}  // namespace

int run_tokenizer(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", kTokenizerHelp);
    return args.empty() ? kExitUserError : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  struct Entry {
    const char* help;
    CommandFlagSpec flags;
    int (*run)(const CommandFlags&);
  };
  const std::map<std::string, Entry> commands = {
      {"train", {kTrainHelp, {{"vocab-size", "output", "pretokenizer", "text-column", "threads"}, {"input"}, {}},
                 run_train_tokenizer}},
      {"encode", {kEncodeHelp, {{"tokenizer", "input"}, {}, {}}, run_encode}},
      {"decode", {kDecodeHelp, {{"tokenizer", "input"}, {}, {}}, run_decode}},
      {"stats", {kStatsHelp, {{"tokenizer", "text-column"}, {"input"}, {}}, run_stats}},
  };
  auto found = commands.find(command);
  if (found == commands.end()) {
    std::string message = "unknown command 'utt tokenizer " + command + "'";
    if (auto guess = closest_match(command, {"train", "encode", "decode", "stats"})) {
      message += ": did you mean utt tokenizer " + *guess + "?";
    } else {
      message += ": use train, encode, decode or stats";
    }
    throw UserError(message);
  }
  const CommandFlags flags(rest, "utt tokenizer " + command, found->second.flags);
  if (flags.help()) {
    fmt::print("{}", found->second.help);
    return 0;
  }
  return found->second.run(flags);
}

}  // namespace utt
