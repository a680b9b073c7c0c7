// The guide (shared/seed/ULTIMATE_TRAINER_GUIDE.md) is our contract: every flag it names is
// accepted and documented in --help with the guide's default, and every example command in
// it runs (as a dry run) with only the program name changed.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/run_utt.h"
#include "test_paths.h"

namespace utt::test {
namespace {

std::string guide_text() {
  std::ifstream in(shared_dir() + "/seed/ULTIMATE_TRAINER_GUIDE.md");
  EXPECT_TRUE(in.good()) << "the guide is missing from " << shared_dir() << "/seed";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct GuideRow {
  std::string flag;
  std::string type;
  std::string default_value;
};

std::string strip(std::string text) {
  const char* junk = " `\"*";
  text.erase(0, text.find_first_not_of(junk));
  text.erase(text.find_last_not_of(junk) + 1);
  return text;
}

std::vector<GuideRow> guide_table_rows() {
  std::vector<GuideRow> rows;
  std::istringstream lines(guide_text());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("| `--", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream cell_stream(line.substr(1));
    std::string cell;
    while (std::getline(cell_stream, cell, '|')) cells.push_back(strip(cell));
    if (cells.size() >= 3) rows.push_back({cells[0], cells[1], cells[2]});
  }
  return rows;
}

std::set<std::string> every_guide_flag() {
  std::set<std::string> flags;
  const std::string text = guide_text();
  const std::regex flag_pattern("--[a-z][a-z0-9-]*[a-z0-9]");
  for (std::sregex_iterator it(text.begin(), text.end(), flag_pattern), end; it != end; ++it) {
    flags.insert(it->str());
  }
  return flags;
}

// "(default: X)" on the help line of `flag`.
std::string help_default(const std::string& help, const std::string& flag) {
  std::istringstream lines(help);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("  " + flag + " ") != 0 && line != "  " + flag &&
        line.find("  " + flag + " ") == std::string::npos) {
      continue;
    }
    const size_t at = line.find("(default: ");
    if (at == std::string::npos) {
      if (line.find("(required)") != std::string::npos) return "required";  // no default to show
      continue;
    }
    const size_t end = line.find(')', at);
    return line.substr(at + 10, end - at - 10);
  }
  return "<no help line for " + flag + ">";
}

bool same_default(const std::string& guide, const std::string& ours) {
  if (guide == "required") return ours == "required";
  char* end = nullptr;
  const double a = std::strtod(guide.c_str(), &end);
  if (end && *end == '\0' && !guide.empty()) {
    char* end_b = nullptr;
    const double b = std::strtod(ours.c_str(), &end_b);
    return end_b && *end_b == '\0' && a == b;
  }
  return guide == ours;
}

TEST(GuideContract, TheGuideHasItsParameterTables) {
  EXPECT_GE(guide_table_rows().size(), 45u);
  EXPECT_GE(every_guide_flag().size(), 48u);
}

TEST(GuideContract, EveryFlagOfTheGuideIsInHelp) {
  const RunResult help = run_utt({"train", "--help"});
  ASSERT_EQ(help.exit_code, 0);
  for (const std::string& flag : every_guide_flag()) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << " is missing from utt train --help";
  }
}

TEST(GuideContract, HelpShowsTheGuidesDefaults) {
  const std::string help = run_utt({"train", "--help"}).out;
  for (const GuideRow& row : guide_table_rows()) {
    EXPECT_TRUE(same_default(row.default_value, help_default(help, row.flag)))
        << row.flag << ": guide says " << row.default_value << ", help says "
        << help_default(help, row.flag);
  }
}

// A valid value for each flag of the guide, chosen by its declared type.
std::vector<std::string> sample_args(const GuideRow& row) {
  if (row.type == "flag") return {row.flag};
  static const std::map<std::string, std::string> specific = {
      {"--activation", "silu"},        {"--cloud-provider", "s3"},   {"--dropout-rate", "0.2"},
      {"--learning-rate", "1e-3"},     {"--weight-decay", "0.1"},    {"--grad-clip", "0.5"},
      {"--vocab-size", "8000"},        {"--min-vocab-size", "6000"}, {"--max-vocab-size", "40000"},
      {"--split", "train"},            {"--val-split", "validation"}, {"--d-model", "256"},
      {"--num-heads", "4"},            {"--stride", "128"},          {"--dataset-id", "org/data"},
      {"--azure-sas-token", "sv=x"},   {"--azure-account-name", "acct"}, {"--warmup-steps", "10"},
  };
  if (auto it = specific.find(row.flag); it != specific.end()) return {row.flag, it->second};
  if (row.type == "int") return {row.flag, "3"};
  return {row.flag, "value"};
}

TEST(GuideContract, EveryFlagOfTheGuideIsAcceptedByADryRun) {
  for (const GuideRow& row : guide_table_rows()) {
    std::vector<std::string> args = {"train", "--dataset-id", "org/data", "--dry-run"};
    for (const std::string& a : sample_args(row)) args.push_back(a);
    // Flags that need a partner to make sense.
    if (row.flag == "--lora-rank") args.push_back("--use-lora");
    if (row.flag == "--cloud-provider" || row.flag.rfind("--cloud-", 0) == 0 ||
        row.flag.rfind("--azure-", 0) == 0) {
      for (const char* a : {"--cloud-provider", "azure", "--cloud-bucket", "b",
                            "--azure-account-name", "acct", "--azure-sas-token", "sv=x"}) {
        args.push_back(a);
      }
    }
    if (row.flag == "--auto-vocab-size" || row.flag == "--tokenizer-path") {
      // fine alone
    }
    const RunResult r = run_utt(args);
    if (row.flag == "--resume-from") {
      // The dry run checks the checkpoint, as the run does: a path that is none is refused.
      EXPECT_EQ(r.exit_code, 2) << r.out;
      EXPECT_NE(r.err.find("--resume-from value is not a checkpoint directory"), std::string::npos) << r.err;
      continue;
    }
    EXPECT_EQ(r.exit_code, 0) << row.flag << ": " << r.err;
  }
}

// The guide's example commands, with `python -m src.training.train_ultimate` replaced by
// train_ultimate and --dry-run appended.
std::vector<std::vector<std::string>> guide_examples() {
  std::vector<std::vector<std::string>> examples;
  const std::string text = guide_text();
  const std::string program = "python -m src.training.train_ultimate";
  size_t at = 0;
  while ((at = text.find(program, at)) != std::string::npos) {
    const size_t end = text.find("```", at);
    std::string command = text.substr(at + program.size(), end - at - program.size());
    std::vector<std::string> args;
    std::string current;
    bool quoted = false;
    for (char c : command) {
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && (c == ' ' || c == '\n' || c == '\\')) {
        if (!current.empty()) args.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) args.push_back(current);
    examples.push_back(args);
    at = end;
  }
  return examples;
}

TEST(GuideContract, EveryExampleOfTheGuideRunsAsADryRun) {
  const auto examples = guide_examples();
  EXPECT_GE(examples.size(), 12u);
  for (std::vector<std::string> args : examples) {
    args.push_back("--dry-run");
    std::string line;
    for (const auto& a : args) line += a + " ";
    const std::string dir = scratch_dir("example");
    const RunResult r = run_program(binary_dir() + "/train_ultimate", args, dir);
    EXPECT_TRUE(is_empty_dir(dir)) << "a dry run wrote files: " << line;
    if (line.find("--resume-from ") != std::string::npos) {
      // The guide's resume example names a checkpoint of an earlier run, which is not here:
      // the dry run checks it as the run would, and refuses it by name.
      EXPECT_EQ(r.exit_code, 2) << line;
      EXPECT_NE(r.err.find("is not a checkpoint directory"), std::string::npos) << line << "\n" << r.err;
      continue;
    }
    EXPECT_EQ(r.exit_code, 0) << line << "\n" << r.err;
    EXPECT_NE(r.out.find("\nParameters: "), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace utt::test
