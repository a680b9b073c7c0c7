#include "export/gguf_writer.h"

#include <cstring>
#include <set>

#include "export/hf_layout.h"
#include "io/staged_dir.h"
#include "model/parameter_layout.h"
#include "tokenizer/byte_level.h"
#include "util/error.h"

namespace utt {
namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kAlignment = 32;  // the default when general.alignment is absent

enum class GgufValue : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kBF16 = 30 };

// Little-endian serialization of the header: keys and tensor infos.
class Header {
 public:
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void string(const std::string& s) {
    u64(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }

  void key_u32(const std::string& key, uint32_t v) { begin(key, GgufValue::kU32); u32(v); }
  void key_f32(const std::string& key, float v) { begin(key, GgufValue::kF32); raw(&v, 4); }
  void key_bool(const std::string& key, bool v) { begin(key, GgufValue::kBool); bytes_.push_back(v ? 1 : 0); }
  void key_string(const std::string& key, const std::string& v) { begin(key, GgufValue::kString); string(v); }
  void key_strings(const std::string& key, const std::vector<std::string>& values) {
    begin(key, GgufValue::kArray);
    u32(static_cast<uint32_t>(GgufValue::kString));
    u64(values.size());
    for (const std::string& v : values) string(v);
  }
  void key_i32s(const std::string& key, const std::vector<int32_t>& values) {
    begin(key, GgufValue::kArray);
    u32(static_cast<uint32_t>(GgufValue::kI32));
    u64(values.size());
    for (int32_t v : values) raw(&v, 4);
  }

  void pad_to(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }
  uint64_t key_count() const { return key_count_; }

 private:
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void begin(const std::string& key, GgufValue type) {
    string(key);
    u32(static_cast<uint32_t>(type));
    ++key_count_;
  }
  std::vector<uint8_t> bytes_;
  uint64_t key_count_ = 0;
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order
  std::vector<float> values;
};

// Meta/llama.cpp RoPE pairs (2i, 2i+1) where utt and HF pair (i, i + HS/2): within each head,
// GGUF row 2i + j is utt row j*HS/2 + i (hf-model-export.md, "RoPE layout").
std::vector<float> permute_for_gguf_rope(const float* rows, int64_t heads, int64_t HS, int64_t C) {
  std::vector<float> out(static_cast<size_t>(heads * HS * C));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < HS / 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* from = rows + (h * HS + j * (HS / 2) + i) * C;
        std::copy(from, from + C, out.begin() + (h * HS + 2 * i + j) * C);
      }
    }
  }
  return out;
}

std::vector<GgufTensor> gguf_tensors(const HostModel& model, HfArchitecture architecture) {
  const ModelConfig& c = model.config;
  const ParameterLayout layout(c);
  auto tensor = [&](const std::string& name) -> const ParameterTensor& {
    const ParameterTensor* t = layout.find(name);
    UTT_CHECK(t != nullptr, "no tensor " + name);
    return *t;
  };
  auto copy = [&](const std::string& gguf, const std::string& utt) {
    const ParameterTensor& t = tensor(utt);
    return GgufTensor{gguf, t.shape, {model.weights.begin() + t.offset, model.weights.begin() + t.offset + t.count}};
  };
  // A GPT-2 tensor utt may lack (linear biases): zeros of the given shape.
  auto copy_or_zeros = [&](const std::string& gguf, const std::string& utt, std::vector<int64_t> shape) {
    if (layout.find(utt) != nullptr) return copy(gguf, utt);
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    return GgufTensor{gguf, shape, std::vector<float>(static_cast<size_t>(count), 0.0f)};
  };
  const int64_t C = c.d_model, HS = c.head_dim(), KVC = c.kv_dim(), F = c.d_ff;
  std::vector<GgufTensor> list;
  list.push_back(copy("token_embd.weight", "tok_embeddings.weight"));
  if (architecture == HfArchitecture::kGpt2) list.push_back(copy("position_embd.weight", "pos_embeddings.weight"));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const std::string u = "layers." + std::to_string(i) + ".";
    list.push_back(copy(b + "attn_norm.weight", u + "attention_norm.weight"));
    if (architecture == HfArchitecture::kLlama) {
      const ParameterTensor& wq = tensor(u + "attention.wq.weight");
      const ParameterTensor& wk = tensor(u + "attention.wk.weight");
      list.push_back({b + "attn_q.weight", wq.shape,
                      permute_for_gguf_rope(model.weights.data() + wq.offset, c.num_heads, HS, C)});
      list.push_back({b + "attn_k.weight", wk.shape,
                      permute_for_gguf_rope(model.weights.data() + wk.offset, c.num_kv_heads, HS, C)});
      list.push_back(copy(b + "attn_v.weight", u + "attention.wv.weight"));
      list.push_back(copy(b + "attn_output.weight", u + "attention.wo.weight"));
      list.push_back(copy(b + "ffn_norm.weight", u + "ffn_norm.weight"));
      list.push_back(copy(b + "ffn_gate.weight", u + "feed_forward.w_gate.weight"));
      list.push_back(copy(b + "ffn_up.weight", u + "feed_forward.w_up.weight"));
      list.push_back(copy(b + "ffn_down.weight", u + "feed_forward.w_down.weight"));
    } else {
      // GGUF's gpt2 holds nn.Linear layouts: q|k|v rows stacked into attn_qkv [3C, C].
      list.push_back(copy(b + "attn_norm.bias", u + "attention_norm.bias"));
      GgufTensor qkv{b + "attn_qkv.weight", {C + 2 * KVC, C}, {}};
      GgufTensor qkv_bias{b + "attn_qkv.bias", {C + 2 * KVC}, {}};
      for (const char* w : {"wq", "wk", "wv"}) {
        const GgufTensor part = copy("", u + "attention." + w + ".weight");
        qkv.values.insert(qkv.values.end(), part.values.begin(), part.values.end());
        const GgufTensor bias = copy_or_zeros("", u + "attention." + w + ".bias", {part.shape[0]});
        qkv_bias.values.insert(qkv_bias.values.end(), bias.values.begin(), bias.values.end());
      }
      list.push_back(std::move(qkv));
      list.push_back(std::move(qkv_bias));
      list.push_back(copy(b + "attn_output.weight", u + "attention.wo.weight"));
      list.push_back(copy_or_zeros(b + "attn_output.bias", u + "attention.wo.bias", {C}));
      list.push_back(copy(b + "ffn_norm.weight", u + "ffn_norm.weight"));
      list.push_back(copy(b + "ffn_norm.bias", u + "ffn_norm.bias"));
      list.push_back(copy(b + "ffn_up.weight", u + "feed_forward.w_up.weight"));
      list.push_back(copy_or_zeros(b + "ffn_up.bias", u + "feed_forward.w_up.bias", {F}));
      list.push_back(copy(b + "ffn_down.weight", u + "feed_forward.w_down.weight"));
      list.push_back(copy_or_zeros(b + "ffn_down.bias", u + "feed_forward.w_down.bias", {C}));
    }
  }
  list.push_back(copy("output_norm.weight", "norm.weight"));
  if (architecture == HfArchitecture::kGpt2) list.push_back(copy("output_norm.bias", "norm.bias"));
  // An untied head must be written: llama.cpp silently falls back to token_embd without it.
  if (!c.tie_embeddings) list.push_back(copy("output.weight", "output.weight"));
  return list;
}

// llama.cpp takes no regex from the file: it knows the pre-tokenizers by name.
std::string pre_tokenizer_name(const Tokenizer& tokenizer) {
  const TokenizerSpec& spec = tokenizer.spec();
  if (spec.add_prefix_space) {
    throw UserError("the tokenizer adds a prefix space, which llama.cpp's BPE does not do: export with --format hf");
  }
  switch (spec.pretokenizer) {
    case PretokenizerKind::kGpt2: return "gpt-2";
    case PretokenizerKind::kCl100k: return "llama-bpe";
    case PretokenizerKind::kCustom: break;
  }
  throw UserError("the tokenizer splits text with a custom pattern, and llama.cpp knows only its built-in "
                  "pre-tokenizers: export with --format hf, or train the tokenizer with --pretokenizer gpt2 or "
                  "cl100k");
}

void add_tokenizer_keys(Header& header, const Tokenizer& tokenizer) {
  const TokenizerSpec& spec = tokenizer.spec();
  std::vector<bool> special(spec.tokens.size(), false);
  for (const SpecialToken& s : spec.specials) special[s.id] = true;
  std::vector<std::string> tokens(spec.tokens.size());
  std::vector<int32_t> types(spec.tokens.size(), 1);  // normal
  std::set<std::string> seen;
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (!tokenizer.is_used(static_cast<uint32_t>(id))) {
      // A gap in the id space (cl100k's): llama.cpp needs a token per id, so a named
      // placeholder of type "unused", which no text encodes to.
      tokens[id] = "[UNUSED_ID_" + std::to_string(id) + "]";
      types[id] = 5;
    } else {
      tokens[id] = special[id] ? spec.tokens[id] : bytes_to_symbols(spec.tokens[id]);
      if (special[id]) types[id] = 3;  // control
    }
    if (!seen.insert(tokens[id]).second) {
      throw UserError("token " + std::to_string(id) + " ('" + tokens[id] + "') appears twice in the vocabulary; "
                      "llama.cpp refuses duplicate tokens: export with --format hf");
    }
  }
  std::vector<std::string> merges;
  merges.reserve(spec.merges.size());
  for (const BpeMerge& m : spec.merges) merges.push_back(tokens[m.left] + " " + tokens[m.right]);
  const std::string pre = pre_tokenizer_name(tokenizer);
  header.key_string("tokenizer.ggml.model", "gpt2");  // byte-level BPE from tokens + merges
  header.key_string("tokenizer.ggml.pre", pre);
  header.key_strings("tokenizer.ggml.tokens", tokens);
  header.key_i32s("tokenizer.ggml.token_type", types);
  header.key_strings("tokenizer.ggml.merges", merges);
  // Always written: without them llama.cpp's gpt2 tokenizer defaults both to id 11. A BOS only
  // where the tokenizer's template puts one before each text (Llama-3 style files); utt's own
  // tokenizers add none ("llama-bpe" would by default).
  const TextTemplate separators = tokenizer.document_separators();
  header.key_u32("tokenizer.ggml.bos_token_id", tokenizer.bos_id());
  header.key_u32("tokenizer.ggml.eos_token_id", tokenizer.eos_id());
  header.key_u32("tokenizer.ggml.padding_token_id", tokenizer.pad_id());
  header.key_bool("tokenizer.ggml.add_bos_token", !separators.prefix.empty());
  header.key_bool("tokenizer.ggml.add_eos_token", false);
}

void add_model_keys(Header& header, const ModelConfig& c, HfArchitecture architecture, ExportDtype dtype) {
  const std::string arch = architecture == HfArchitecture::kLlama ? "llama" : "gpt2";
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  header.key_string("general.architecture", arch);
  header.key_string("general.name", "utt " + arch + " " + std::to_string(c.num_layers) + "x" + std::to_string(c.d_model));
  header.key_u32("general.file_type", dtype == ExportDtype::kF32 ? 0 : dtype == ExportDtype::kF16 ? 1 : 32);
  header.key_u32(arch + ".context_length", u32(c.seq_len));
  header.key_u32(arch + ".embedding_length", u32(c.d_model));
  header.key_u32(arch + ".block_count", u32(c.num_layers));
  header.key_u32(arch + ".feed_forward_length", u32(c.d_ff));
  header.key_u32(arch + ".attention.head_count", u32(c.num_heads));
  if (architecture == HfArchitecture::kLlama) {
    header.key_u32("llama.attention.head_count_kv", u32(c.num_kv_heads));
    header.key_u32("llama.rope.dimension_count", u32(c.head_dim()));
    header.key_u32("llama.vocab_size", u32(c.vocab_size));
    header.key_f32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
    header.key_f32("llama.rope.freq_base", static_cast<float>(c.rope_theta));
  } else {
    header.key_f32("gpt2.attention.layer_norm_epsilon", static_cast<float>(c.norm_eps));
  }
}

uint64_t round_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

void write_gguf(const HostModel& model, const std::filesystem::path& output, ExportDtype dtype) {
  const HfArchitecture architecture = export_architecture(model.config, "gguf");
  std::vector<GgufTensor> tensors = gguf_tensors(model, architecture);

  Header keys;
  add_model_keys(keys, model.config, architecture, dtype);
  add_tokenizer_keys(keys, *model.tokenizer);

  std::vector<std::vector<uint8_t>> data;
  Header infos;
  uint64_t offset = 0;
  for (GgufTensor& t : tensors) {
    UTT_CHECK(t.name.size() < 64, "GGUF tensor name too long: " + t.name);
    // 1-D tensors (norms, biases) stay F32: llama.cpp aborts on F16 norm weights.
    const ExportDtype type = t.shape.size() == 1 ? ExportDtype::kF32 : dtype;
    data.push_back(encode_values(t.values, type));
    t.values = {};
    infos.string(t.name);
    infos.u32(static_cast<uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) infos.u64(static_cast<uint64_t>(*d));
    infos.u32(static_cast<uint32_t>(type == ExportDtype::kF32 ? GgmlType::kF32
                                    : type == ExportDtype::kF16 ? GgmlType::kF16 : GgmlType::kBF16));
    infos.u64(offset);
    offset = round_up(offset + data.back().size(), kAlignment);
  }

  Header file;
  file.u32(0x46554747u);  // "GGUF" read as a little-endian u32
  file.u32(kGgufVersion);
  file.u64(tensors.size());
  file.u64(keys.key_count());
  std::vector<uint8_t>& head = file.bytes();
  head.insert(head.end(), keys.bytes().begin(), keys.bytes().end());
  head.insert(head.end(), infos.bytes().begin(), infos.bytes().end());
  file.pad_to(kAlignment);

  static const std::vector<uint8_t> zeros(kAlignment, 0);
  std::vector<std::string_view> pieces;
  pieces.emplace_back(reinterpret_cast<const char*>(head.data()), head.size());
  for (const std::vector<uint8_t>& d : data) {
    pieces.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
    const size_t padding = round_up(d.size(), kAlignment) - d.size();
    if (padding) pieces.emplace_back(reinterpret_cast<const char*>(zeros.data()), padding);
  }
  if (!output.parent_path().empty()) std::filesystem::create_directories(output.parent_path());
  write_file_atomic(output, pieces);
}

}  // namespace utt
