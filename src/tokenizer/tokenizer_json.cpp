// tokenizer.json, Hugging Face's format: the one reader and the one writer.
// Facts: shared/reference/tokenizer-json.md. We read byte-level BPE files (ours, GPT-2's,
// Llama-3's style); anything else is refused naming the field.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
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

// The largest id a file may use for `entries` tokens: gaps are allowed, a table sized by a
// hostile id is not.
uint64_t max_id_for(size_t entries) { return std::max<uint64_t>(2 * entries, entries + 65536); }

void read_model(const Json& root, TokenizerSpec& spec,
                std::unordered_map<std::string, uint32_t>& id_of_symbols, size_t& model_entries) {
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
  const uint64_t id_limit = max_id_for(vocab.size());
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_unsigned()) refuse("model.vocab[\"" + token + "\"]", "must be an id >= 0");
    const auto id = id_json.get<uint64_t>();
    // Ids may leave gaps (published files do), but a wildly large one must not size a table.
    if (id > id_limit) {
      refuse("model.vocab[\"" + token + "\"]", fmt::format("has id {}, far beyond the {} entries (at most {} "
             "is accepted)", id, vocab.size(), id_limit));
    }
    if (symbols.size() <= id) symbols.resize(id + 1);
    if (!symbols[id].empty()) {
      refuse("model.vocab[\"" + token + "\"]", fmt::format("has id {}, which \"{}\" has too", id, symbols[id]));
    }
    if (token.empty()) refuse("model.vocab", "has an empty token");
    symbols[id] = token;
    id_of_symbols[token] = static_cast<uint32_t>(id);
  }
  spec.tokens.resize(symbols.size());
  for (size_t id = 0; id < symbols.size(); ++id) {
    if (!symbols[id].empty()) spec.tokens[id] = symbols_to_bytes(symbols[id]);
  }
  model_entries = vocab.size();

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

// Ids as Hugging Face tokenizers gives them when it loads a file (AddedVocabulary::add_tokens):
// a token already in the model keeps the model's id, whatever the file lists; a token that is
// not gets the model's entry count, then one more for each further such token, whatever id
// the file lists (seen with tokenizers 0.23: with gaps this can be below the model's largest
// id, filling a gap).
void read_added_tokens(const Json& root, TokenizerSpec& spec,
                       const std::unordered_map<std::string, uint32_t>& id_of_symbols, size_t model_entries) {
  auto found = root.find("added_tokens");
  if (found == root.end() || found->is_null()) return;
  if (!found->is_array()) refuse("added_tokens", "must be an array");
  std::optional<uint32_t> max_added;  // of the added tokens that are not in the model
  for (size_t i = 0; i < found->size(); ++i) {
    const Json& token = (*found)[i];
    const std::string where = fmt::format("added_tokens[{}]", i);
    if (!token.is_object()) refuse(where, "must be an object");
    const std::string content = string_member(token, "content", where);
    if (content.empty()) continue;  // HF ignores it too
    uint32_t id = 0;
    auto in_vocab = id_of_symbols.find(content);
    auto added = std::find_if(spec.specials.begin(), spec.specials.end(),
                              [&](const SpecialToken& s) { return s.content == content; });
    if (added != spec.specials.end()) continue;  // listed twice: HF keeps the first
    if (in_vocab != id_of_symbols.end()) {
      id = in_vocab->second;
    } else {
      const uint64_t next = max_added ? std::max<uint64_t>(*max_added + 1, model_entries) : model_entries;
      if (next > max_id_for(model_entries)) refuse(where, "would get an id far beyond the vocabulary");
      id = static_cast<uint32_t>(next);
      if (id < spec.tokens.size() && !spec.tokens[id].empty()) {
        refuse(where, fmt::format("gets id {} (as Hugging Face tokenizers numbers it), which the model's "
                                  "token at that id already has: list it in model.vocab with a free id", id));
      }
    }
    if (spec.tokens.size() <= id) spec.tokens.resize(id + 1);
    spec.tokens[id] = content;
    if (in_vocab == id_of_symbols.end()) max_added = max_added ? std::max(*max_added, id) : id;
    spec.specials.push_back({content, id});
  }
}

// One special token of a template: its ids from the template's special_tokens table.
std::vector<uint32_t> template_token_ids(const Json& processor, const std::string& name, const std::string& where) {
  const Json& table = member(processor, "special_tokens", where);
  if (!table.is_object() || !table.contains(name)) {
    refuse(where + ".special_tokens", "has no entry for \"" + name + "\", which the template uses");
  }
  const Json& ids = member(table[name], "ids", where + ".special_tokens[\"" + name + "\"]");
  if (!ids.is_array() || ids.empty()) refuse(where + ".special_tokens[\"" + name + "\"].ids", "must be a list of ids");
  std::vector<uint32_t> out;
  for (const Json& id : ids) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() > UINT32_MAX) {
      refuse(where + ".special_tokens[\"" + name + "\"].ids", "must hold ids >= 0");
    }
    out.push_back(id.get<uint32_t>());
  }
  return out;
}

// TemplateProcessing's "single" template: special tokens around the one sequence "A".
TextTemplate read_template_processing(const Json& processor, const std::string& where) {
  const Json& single = member(processor, "single", where);
  if (!single.is_array()) refuse(where + ".single", "must be a list");
  TextTemplate text_template;
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const Json& piece = single[i];
    const std::string piece_where = fmt::format("{}.single[{}]", where, i);
    if (piece.is_object() && piece.contains("Sequence")) {
      if (seen_sequence) refuse(piece_where, "is a second sequence: a single template has one");
      seen_sequence = true;
    } else if (piece.is_object() && piece.contains("SpecialToken") && piece["SpecialToken"].is_object()) {
      const std::vector<uint32_t> ids =
          template_token_ids(processor, string_member(piece["SpecialToken"], "id", piece_where + ".SpecialToken"), where);
      auto& side = seen_sequence ? text_template.suffix : text_template.prefix;
      side.insert(side.end(), ids.begin(), ids.end());
    } else {
      refuse(piece_where, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  if (!seen_sequence) refuse(where + ".single", "has no {\"Sequence\": {\"id\": \"A\"}}");
  return text_template;
}

// BERT's and RoBERTa's processors: [cls] text [sep].
TextTemplate read_cls_sep_processing(const Json& processor, const std::string& where) {
  auto id_of = [&](const char* key) {
    const Json& pair = member(processor, key, where);
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_unsigned() || pair[1].get<uint64_t>() > UINT32_MAX) {
      refuse(field_name(where, key), "must be [token, id]");
    }
    return pair[1].get<uint32_t>();
  };
  return TextTemplate{{id_of("cls")}, {id_of("sep")}};
}

// post_processor: the tokens it adds around a single text. ByteLevel (offsets only) adds none.
TextTemplate read_post_processor(const Json& node, const std::string& where) {
  if (node.is_null()) return {};
  if (!node.is_object()) refuse(where, "must be an object or null");
  const std::string type = string_member(node, "type", where);
  if (type == "ByteLevel") return {};
  if (type == "TemplateProcessing") return read_template_processing(node, where);
  if (type == "BertProcessing" || type == "RobertaProcessing") return read_cls_sep_processing(node, where);
  if (type == "Sequence") {
    const Json& list = member(node, "processors", where);
    if (!list.is_array()) refuse(where + ".processors", "must be a list");
    TextTemplate combined;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item_where = fmt::format("{}.processors[{}]", where, i);
      TextTemplate one = read_post_processor(list[i], item_where);
      if (one.empty()) continue;
      if (!combined.empty()) refuse(item_where, "is a second processor that adds tokens: utt reads one");
      combined = std::move(one);
    }
    return combined;
  }
  refuse(where + ".type '" + type + "'",
         "is not supported: utt reads ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing "
         "and a Sequence of them");
}

// `symbols`: each id's vocab string (special tokens as their text).
OrderedJson template_json(const TextTemplate& text_template, const std::vector<std::string>& tokens) {
  OrderedJson single = OrderedJson::array();
  OrderedJson pair = OrderedJson::array();
  OrderedJson special_tokens = OrderedJson::object();
  auto add_tokens = [&](const std::vector<uint32_t>& ids, OrderedJson& into, int type_id) {
    for (uint32_t id : ids) {
      into.push_back(OrderedJson{{"SpecialToken", {{"id", tokens[id]}, {"type_id", type_id}}}});
      special_tokens[tokens[id]] = OrderedJson{{"id", tokens[id]}, {"ids", {id}}, {"tokens", {tokens[id]}}};
    }
  };
  add_tokens(text_template.prefix, single, 0);
  single.push_back(OrderedJson{{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  add_tokens(text_template.suffix, single, 0);
  pair = single;
  add_tokens(text_template.prefix, pair, 1);
  pair.push_back(OrderedJson{{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  add_tokens(text_template.suffix, pair, 1);
  return OrderedJson{{"type", "TemplateProcessing"}, {"single", std::move(single)}, {"pair", std::move(pair)},
                     {"special_tokens", std::move(special_tokens)}};
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
  size_t model_entries = 0;
  read_pre_tokenizer(root, spec);
  read_model(root, spec, id_of_symbols, model_entries);
  read_added_tokens(root, spec, id_of_symbols, model_entries);
  if (root.contains("post_processor")) spec.text_template = read_post_processor(root["post_processor"], "post_processor");
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (spec.tokens[id].empty()) spec.unused_ids.push_back(static_cast<uint32_t>(id));
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
    if (!is_used(static_cast<uint32_t>(id))) continue;  // a gap stays a gap
    symbols[id] = is_special[id] ? spec_.tokens[id] : bytes_to_symbols(spec_.tokens[id]);
    vocab += fmt::format("{}      {}: {}", vocab.empty() ? "" : ",\n", quote(symbols[id]), id);
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
                   {"pre_tokenizer", std::move(pre_tokenizer)},
                   {"post_processor", spec_.text_template.empty() ? OrderedJson(nullptr)
                                                                  : template_json(spec_.text_template, symbols)},
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
