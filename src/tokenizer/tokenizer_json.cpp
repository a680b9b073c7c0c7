// tokenizer.json, Hugging Face's format: the one reader and the one writer.
// Facts: shared/reference/tokenizer-json.md. We read byte-level BPE files (ours, GPT-2's,
// Llama-3's style); anything else is refused naming the field.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace utt {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& field, const std::string& problem) {
  throw UserError("tokenizer.json: " + field + " " + problem);
}

// "model" + "vocab" -> "model.vocab"; top-level fields have no prefix.
std::string field_name(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

const Json& member(const Json& object, const char* key, const std::string& where) {
  auto found = object.find(key);
  if (found == object.end()) refuse(field_name(where, key), "is missing");
  return *found;
}

std::string string_member(const Json& object, const char* key, const std::string& where) {
  const Json& value = member(object, key, where);
  if (!value.is_string()) refuse(field_name(where, key), "must be a string");
  return value.get<std::string>();
}

bool bool_member(const Json& object, const char* key, const std::string& where, bool fallback,
                 bool required) {
  auto found = object.find(key);
  if (found == object.end() || (!required && found->is_null())) {
    if (required) refuse(field_name(where, key), "is missing");
    return fallback;
  }
  if (!found->is_boolean()) refuse(field_name(where, key), "must be true or false");
  return found->get<bool>();
}

bool null_or_empty(const Json& object, const char* key) {
  auto found = object.find(key);
  return found == object.end() || found->is_null() ||
         (found->is_string() && found->get<std::string>().empty());
}

// One ByteLevel pre-tokenizer: returns whether it splits with GPT-2's regex itself.
bool read_byte_level(const Json& node, const std::string& where, TokenizerSpec& spec) {
  spec.add_prefix_space = bool_member(node, "add_prefix_space", where, false, true);
  bool_member(node, "trim_offsets", where, true, true);
  return bool_member(node, "use_regex", where, true, false);
}

void read_pre_tokenizer(const Json& root, TokenizerSpec& spec) {
  const Json& node = member(root, "pre_tokenizer", "");
  const std::string supported =
      "is not supported: utt reads byte-level BPE (ByteLevel, or a Sequence of a Regex Split "
      "and ByteLevel)";
  if (!node.is_object()) refuse("pre_tokenizer", supported);
  const std::string type = string_member(node, "type", "pre_tokenizer");
  if (type == "ByteLevel") {
    if (!read_byte_level(node, "pre_tokenizer", spec)) {
      refuse("pre_tokenizer.use_regex", "false without a Split before it " + supported);
    }
    spec.pretokenizer = PretokenizerKind::kGpt2;
    return;
  }
  if (type != "Sequence") refuse("pre_tokenizer.type '" + type + "'", supported);
  const Json& list = member(node, "pretokenizers", "pre_tokenizer");
  if (!list.is_array() || list.size() != 2) refuse("pre_tokenizer.pretokenizers", supported);
  const std::string split_where = "pre_tokenizer.pretokenizers[0]";
  const Json& split = list[0];
  if (!split.is_object() || string_member(split, "type", split_where) != "Split") {
    refuse(split_where, supported);
  }
  const Json& pattern = member(split, "pattern", split_where);
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
    refuse(split_where + ".pattern", "must be {\"Regex\": ...} (a literal String split is not supported)");
  }
  if (string_member(split, "behavior", split_where) != "Isolated") {
    refuse(split_where + ".behavior", "must be Isolated");
  }
  if (bool_member(split, "invert", split_where, false, true)) {
    refuse(split_where + ".invert", "must be false");
  }
  const std::string byte_level_where = "pre_tokenizer.pretokenizers[1]";
  if (!list[1].is_object() || string_member(list[1], "type", byte_level_where) != "ByteLevel") {
    refuse(byte_level_where, supported);
  }
  if (read_byte_level(list[1], byte_level_where, spec)) {
    refuse(byte_level_where + ".use_regex", "must be false after a Split");
  }
  const std::string regex = pattern["Regex"].get<std::string>();
  if (regex == kCl100kPattern) {
    spec.pretokenizer = PretokenizerKind::kCl100k;
  } else if (regex == kGpt2Pattern) {
    spec.pretokenizer = PretokenizerKind::kGpt2;
  } else {
    spec.pretokenizer = PretokenizerKind::kCustom;
    spec.custom_pattern = regex;
  }
}

void read_model(const Json& root, TokenizerSpec& spec,
                std::unordered_map<std::string, uint32_t>& id_of_symbols) {
  const Json& model = member(root, "model", "");
  if (!model.is_object()) refuse("model", "must be an object");
  if (model.contains("type") && string_member(model, "type", "model") != "BPE") {
    refuse("model.type", fmt::format("'{}' is not supported: only BPE", model["type"].get<std::string>()));
  }
  if (bool_member(model, "byte_fallback", "model", false, false)) {
    refuse("model.byte_fallback", "true is not supported (byte-level BPE needs no fallback)");
  }
  if (!null_or_empty(model, "continuing_subword_prefix")) {
    refuse("model.continuing_subword_prefix", "is not supported (must be null)");
  }
  if (!null_or_empty(model, "end_of_word_suffix")) {
    refuse("model.end_of_word_suffix", "is not supported (must be null)");
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    refuse("model.dropout", "is not supported (must be null: encoding must be deterministic)");
  }
  spec.ignore_merges = bool_member(model, "ignore_merges", "model", false, false);

  const Json& vocab = member(model, "vocab", "model");
  if (!vocab.is_object()) refuse("model.vocab", "must be an object of token -> id");
  std::vector<std::string> symbols;
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_unsigned()) refuse("model.vocab[\"" + token + "\"]", "must be an id >= 0");
    const auto id = id_json.get<uint64_t>();
    // Ids must be 0..N-1 without holes, so a larger one is wrong (and must not size a table).
    if (id >= vocab.size()) {
      refuse("model.vocab[\"" + token + "\"]", fmt::format("has id {}, but the {} entries must have "
             "ids 0..{}", id, vocab.size(), vocab.size() - 1));
    }
    if (symbols.size() <= id) symbols.resize(id + 1);
    symbols[id] = token;
    id_of_symbols[token] = static_cast<uint32_t>(id);
  }
  spec.tokens.resize(symbols.size());
  for (size_t id = 0; id < symbols.size(); ++id) spec.tokens[id] = symbols_to_bytes(symbols[id]);

  const Json& merges = member(model, "merges", "model");
  if (!merges.is_array()) refuse("model.merges", "must be an array");
  auto lookup = [&](const std::string& symbol, size_t index) {
    auto found = id_of_symbols.find(symbol);
    if (found == id_of_symbols.end()) {
      refuse(fmt::format("model.merges[{}]", index), "names '" + symbol + "', which is not in model.vocab");
    }
    return found->second;
  };
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& merge = merges[i];
    std::string left;
    std::string right;
    if (merge.is_string()) {
      // Legacy form "a b": exactly one space (byte-level symbols never contain one).
      const std::string text = merge.get<std::string>();
      if (text.starts_with("#version")) continue;
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        refuse(fmt::format("model.merges[{}]", i), "'" + text + "' must be two tokens separated by one space");
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      refuse(fmt::format("model.merges[{}]", i), "must be \"a b\" or [\"a\", \"b\"]");
    }
    spec.merges.push_back({lookup(left, i), lookup(right, i)});
    if (!id_of_symbols.contains(left + right)) {
      refuse(fmt::format("model.merges[{}]", i), "makes '" + left + right + "', which is not in model.vocab");
    }
  }
}

void read_added_tokens(const Json& root, TokenizerSpec& spec,
                       const std::unordered_map<std::string, uint32_t>& id_of_symbols) {
  auto found = root.find("added_tokens");
  if (found == root.end() || found->is_null()) return;
  if (!found->is_array()) refuse("added_tokens", "must be an array");
  for (size_t i = 0; i < found->size(); ++i) {
    const Json& token = (*found)[i];
    const std::string where = fmt::format("added_tokens[{}]", i);
    if (!token.is_object()) refuse(where, "must be an object");
    const std::string content = string_member(token, "content", where);
    if (content.empty()) continue;  // HF ignores it too
    // The model's id wins over the listed one (HF does the same).
    uint32_t id = 0;
    auto in_vocab = id_of_symbols.find(content);
    if (in_vocab != id_of_symbols.end()) {
      id = in_vocab->second;
      spec.tokens[id] = content;
    } else {
      id = static_cast<uint32_t>(spec.tokens.size());
      spec.tokens.push_back(content);
    }
    spec.specials.push_back({content, id});
  }
}

OrderedJson byte_level_json(bool use_regex) {
  return OrderedJson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                     {"use_regex", use_regex}};
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& json_text) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& error) {
    throw UserError(std::string("tokenizer.json is not valid JSON: ") + error.what());
  }
  if (!root.is_object()) refuse("(top level)", "must be an object");
  if (string_member(root, "version", "") != "1.0") refuse("version", "must be \"1.0\"");
  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    refuse("normalizer", "is not supported (must be null for byte-level BPE)");
  }
  TokenizerSpec spec;
  std::unordered_map<std::string, uint32_t> id_of_symbols;
  read_pre_tokenizer(root, spec);
  read_model(root, spec, id_of_symbols);
  read_added_tokens(root, spec, id_of_symbols);
  std::vector<bool> present(spec.tokens.size(), false);
  for (const auto& [symbol, id] : id_of_symbols) present[id] = true;
  for (const SpecialToken& special : spec.specials) present[special.id] = true;
  for (size_t id = 0; id < present.size(); ++id) {
    if (!present[id]) refuse("model.vocab", fmt::format("has no token with id {} (ids must be 0..N-1)", id));
  }
  return Tokenizer(std::move(spec));
}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read tokenizer file " + path + ": check the path");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return from_json(text.str());
  } catch (const UserError& error) {
    // "tokenizer.json: model.vocab is missing" -> "PATH: model.vocab is missing"
    std::string message = error.what();
    const std::string generic = "tokenizer.json: ";
    if (message.starts_with(generic)) message.erase(0, generic.size());
    throw UserError(fmt::format("{}: {}", path, message));
  }
}

std::string Tokenizer::to_json() const {
  OrderedJson added = OrderedJson::array();
  std::vector<bool> is_special(spec_.tokens.size(), false);
  for (const SpecialToken& special : spec_.specials) {
    is_special[special.id] = true;
    added.push_back(OrderedJson{{"id", special.id}, {"content", special.content},
                                {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                {"normalized", false}, {"special", true}});
  }
  OrderedJson pre_tokenizer;
  if (spec_.pretokenizer == PretokenizerKind::kGpt2 && !spec_.add_prefix_space) {
    pre_tokenizer = byte_level_json(true);
  } else {
    OrderedJson byte_level = byte_level_json(false);
    byte_level["add_prefix_space"] = spec_.add_prefix_space;
    pre_tokenizer = OrderedJson{
        {"type", "Sequence"},
        {"pretokenizers",
         {OrderedJson{{"type", "Split"}, {"pattern", {{"Regex", pattern()}}},
                      {"behavior", "Isolated"}, {"invert", false}},
          byte_level}}};
  }
  // vocab and merges are written by hand: ordered_json's object lookups are linear, and a
  // 100k-entry vocabulary would take minutes through it.
  auto quote = [](const std::string& text) {
    return Json(text).dump(-1, ' ', false, Json::error_handler_t::strict);
  };
  std::vector<std::string> symbols(spec_.tokens.size());
  std::string vocab;
  for (size_t id = 0; id < spec_.tokens.size(); ++id) {
    symbols[id] = is_special[id] ? spec_.tokens[id] : bytes_to_symbols(spec_.tokens[id]);
    vocab += fmt::format("{}      {}: {}", id == 0 ? "" : ",\n", quote(symbols[id]), id);
  }
  // The legacy "a b" form: every HF version reads it, and byte-level symbols never contain a
  // space, so it is lossless here.
  std::string merges;
  for (size_t i = 0; i < spec_.merges.size(); ++i) {
    const BpeMerge& merge = spec_.merges[i];
    merges += fmt::format("{}      {}", i == 0 ? "" : ",\n",
                          quote(symbols[merge.left] + " " + symbols[merge.right]));
  }
  OrderedJson head{{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
                   {"added_tokens", std::move(added)}, {"normalizer", nullptr},
                   {"pre_tokenizer", std::move(pre_tokenizer)}, {"post_processor", nullptr},
                   {"decoder", byte_level_json(true)}};
  std::string text = head.dump(2, ' ', false, Json::error_handler_t::strict);
  text.pop_back();  // the closing brace; the model follows
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  text += fmt::format(
      ",\n  \"model\": {{\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
      "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
      "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": {},\n"
      "    \"vocab\": {{\n{}\n    }},\n    \"merges\": [\n{}\n    ]\n  }}\n}}\n",
      spec_.ignore_merges, vocab, merges);
  return text;
}

void Tokenizer::save(const std::string& path) const {
  // Written beside the target and renamed over it: a crash never leaves half a file under the
  // real name (a run that reuses tokenizer.json would otherwise load garbage).
  const std::string text = to_json();
  const std::string temporary = path + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw UserError(fmt::format("cannot write tokenizer file {}: check the directory exists and "
                                  "is writable", path));
    }
    out << text;
    out.flush();
    if (!out) throw UserError(fmt::format("writing {} failed (disk full?)", temporary));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw UserError(fmt::format("cannot write tokenizer file {}: {}", path, error.message()));
  }
}

}  // namespace utt
