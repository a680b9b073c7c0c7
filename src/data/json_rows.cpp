// .jsonl / .json: the --text-column field of each record. JSON Lines go through simdjson's
// On-Demand parser one line at a time (only the one field is unescaped); a .json file that
// starts with '[' is an array of records, parsed whole as Hugging Face's json loader does.
#include <simdjson.h>

#include <optional>
#include <string>
#include <vector>

#include "data/byte_stream.h"
#include "data/row_reader.h"
#include "data/utf8.h"
#include "util/error.h"

namespace utt {
namespace {

std::string type_name(simdjson::ondemand::json_type type) {
  using simdjson::ondemand::json_type;
  switch (type) {
    case json_type::array: return "a list";
    case json_type::object: return "an object";
    case json_type::number: return "a number";
    case json_type::boolean: return "a boolean";
    default: return "a value that is not text";
  }
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string text;
  for (const std::string& key : keys) text += (text.empty() ? "" : ", ") + key;
  return text.empty() ? "(none)" : text;
}

void append_utf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

std::optional<uint32_t> hex4(const char* p, const char* end) {
  if (end - p < 4) return std::nullopt;
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    value <<= 4;
    if (c >= '0' && c <= '9') value |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') value |= static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') value |= static_cast<uint32_t>(c - 'A' + 10);
    else return std::nullopt;
  }
  return value;
}

// Unescapes the JSON string whose content starts at `p` (after the opening quote), as
// simdjson does, except that what simdjson refuses — a lone surrogate (\ud800, which
// Python's json writes happily) or a broken escape — becomes U+FFFD and is counted, so one
// odd record does not stop a run.
int64_t unescape_with_replacement(const char* p, const char* end, std::string& out) {
  int64_t replaced = 0;
  out.clear();
  while (p < end && *p != '"') {
    if (*p != '\\') {
      out += *p++;
      continue;
    }
    if (end - p < 2) break;
    const char kind = p[1];
    p += 2;
    switch (kind) {
      case '"': out += '"'; continue;
      case '\\': out += '\\'; continue;
      case '/': out += '/'; continue;
      case 'b': out += '\b'; continue;
      case 'f': out += '\f'; continue;
      case 'n': out += '\n'; continue;
      case 'r': out += '\r'; continue;
      case 't': out += '\t'; continue;
      case 'u': break;
      default: out += "\xEF\xBF\xBD"; ++replaced; continue;
    }
    const std::optional<uint32_t> unit = hex4(p, end);
    if (!unit) {
      out += "\xEF\xBF\xBD";
      ++replaced;
      continue;
    }
    p += 4;
    if (*unit >= 0xD800 && *unit <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
      const std::optional<uint32_t> low = hex4(p + 2, end);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        append_utf8(0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00), out);
        p += 6;
        continue;
      }
    }
    if (*unit >= 0xD800 && *unit <= 0xDFFF) {
      out += "\xEF\xBF\xBD";
      ++replaced;
      continue;
    }
    append_utf8(*unit, out);
  }
  return replaced;
}

class JsonRecordParser {
 public:
  JsonRecordParser(std::string path, std::string column)
      : path_(std::move(path)), column_(std::move(column)) {}

  // Parses one record held in `json` (which must have SIMDJSON_PADDING spare capacity) and
  // points `text` at its column. `where` names the record in error messages.
  void parse(std::string& json, const std::string& where, std::string_view& text, bool& is_null) {
    json.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object record;
    if (parser_.iterate(json.data(), json.size(), json.capacity()).get(doc) ||
        doc.get_object().get(record)) {
      throw UserError(where + " is not a JSON object: each record of a JSON Lines file must be "
                      "one {...} object on one line");
    }
    for (auto field : record) {
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      if (key != column_) continue;
      simdjson::ondemand::value value = field.value();
      simdjson::ondemand::json_type type;
      if (value.type().get(type)) throw UserError(where + " is not valid JSON");
      if (type == simdjson::ondemand::json_type::null) {
        is_null = true;
        seen_column_ = true;
        return;
      }
      if (type != simdjson::ondemand::json_type::string) {
        throw UserError("column '" + column_ + "' holds " + type_name(type) + " at " + where +
                        ", not text: choose a text column with --text-column");
      }
      simdjson::ondemand::raw_json_string raw;
      if (value.get_raw_json_string().get(raw)) throw UserError(where + " is not valid JSON");
      unescaped_.resize(json.size() + simdjson::SIMDJSON_PADDING);
      uint8_t* destination = unescaped_.data();
      if (parser_.unescape(raw, destination).get(text)) {
        // simdjson refuses lone surrogates and broken escapes; repair them instead.
        replaced_ += unescape_with_replacement(raw.raw(), json.data() + json.size(), repaired_);
        text = repaired_;
      }
      is_null = false;
      seen_column_ = true;
      return;
    }
    // A record without the column is NULL once the column is known to exist in this file,
    // as a table with that column would have it; before that it is most likely a wrong name.
    if (seen_column_) {
      is_null = true;
      return;
    }
    throw UserError("column '" + column_ + "' not found in " + where + ": the columns are " +
                    join_keys(keys_of(json)) + "; choose one with --text-column");
  }

 private:
  std::vector<std::string> keys_of(std::string& json) {
    std::vector<std::string> keys;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object record;
    if (parser_.iterate(json.data(), json.size(), json.capacity()).get(doc) ||
        doc.get_object().get(record)) {
      return keys;
    }
    for (auto field : record) {
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      keys.emplace_back(key);
    }
    return keys;
  }

  std::string path_;
  std::string column_;
  simdjson::ondemand::parser parser_;
  std::vector<uint8_t> unescaped_;
  std::string repaired_;
  int64_t replaced_ = 0;
  bool seen_column_ = false;

 public:
  int64_t replaced() const { return replaced_; }
};

class JsonLinesRows : public RowReader {
 public:
  JsonLinesRows(const std::string& path, const std::string& column,
                std::unique_ptr<ByteStream> stream)
      : path_(path), lines_(std::move(stream)), parser_(path, column) {}

  bool next(std::string_view& text, bool& is_null) override {
    while (lines_.next(raw_)) {
      if (raw_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
      std::string* json = &raw_;
      if (!is_valid_utf8(raw_)) {
        replaced_ += repair_utf8(raw_, repaired_);
        json = &repaired_;
      }
      parser_.parse(*json, path_ + " line " + std::to_string(lines_.line_number()), text,
                    is_null);
      return true;
    }
    return false;
  }
  int64_t invalid_utf8_replaced() const override { return replaced_ + parser_.replaced(); }

 private:
  std::string path_;
  LineReader lines_;
  JsonRecordParser parser_;
  std::string raw_, repaired_;
  int64_t replaced_ = 0;
};

// A JSON array of records: small files by nature (the whole array is one value), so it is
// read whole and each element re-parsed as a record.
class JsonArrayRows : public RowReader {
 public:
  JsonArrayRows(const std::string& path, const std::string& column, std::string content)
      : path_(path), parser_(path, column) {
    if (!is_valid_utf8(content)) {
      std::string repaired;
      replaced_ = repair_utf8(content, repaired);
      content.swap(repaired);
    }
    simdjson::dom::element root;
    simdjson::dom::array array;
    if (dom_.parse(content).get(root) || root.get_array().get(array)) {
      throw UserError(path + " is not valid JSON: expected an array of objects or one object "
                      "per line (JSON Lines)");
    }
    for (simdjson::dom::element element : array) records_.push_back(simdjson::minify(element));
  }

  bool next(std::string_view& text, bool& is_null) override {
    if (index_ >= records_.size()) return false;
    const size_t i = index_++;
    parser_.parse(records_[i], path_ + " record " + std::to_string(i + 1), text, is_null);
    return true;
  }
  int64_t invalid_utf8_replaced() const override { return replaced_ + parser_.replaced(); }

 private:
  std::string path_;
  JsonRecordParser parser_;
  simdjson::dom::parser dom_;
  std::vector<std::string> records_;
  size_t index_ = 0;
  int64_t replaced_ = 0;
};

}  // namespace

std::unique_ptr<RowReader> open_json_rows(const std::string& path, const std::string& column) {
  std::unique_ptr<ByteStream> stream = open_byte_stream(path);
  // Peek at the first bytes to tell an array from JSON Lines.
  std::string head(4096, '\0');
  head.resize(stream->read(head.data(), head.size()));
  const size_t first = head.find_first_not_of(" \t\r\n");
  const bool is_array = first != std::string::npos && head[first] == '[';

  // Put the peeked bytes back in front of the rest of the stream.
  struct Prefixed : ByteStream {
    std::string prefix;
    size_t used = 0;
    std::unique_ptr<ByteStream> rest;
    size_t read(char* buffer, size_t capacity) override {
      if (used < prefix.size()) {
        const size_t n = std::min(capacity, prefix.size() - used);
        prefix.copy(buffer, n, used);
        used += n;
        return n;
      }
      return rest->read(buffer, capacity);
    }
  };
  auto prefixed = std::make_unique<Prefixed>();
  prefixed->prefix = std::move(head);
  prefixed->rest = std::move(stream);
  if (!is_array) return std::make_unique<JsonLinesRows>(path, column, std::move(prefixed));

  std::string content;
  std::vector<char> chunk(1 << 20);
  while (size_t n = prefixed->read(chunk.data(), chunk.size())) content.append(chunk.data(), n);
  return std::make_unique<JsonArrayRows>(path, column, std::move(content));
}

}  // namespace utt
