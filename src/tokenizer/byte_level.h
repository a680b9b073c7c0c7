// The GPT-2 byte-to-unicode alphabet: how byte-level BPE writes raw bytes as printable
// characters in tokenizer.json (space is "Ġ", newline "Ċ").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace utt {

// The 256 symbols, as UTF-8, indexed by byte value.
const std::array<std::string, 256>& byte_symbols();

// The bytes in `symbol_order` (code point order of their symbols), which is also GPT-2's
// id order for its first 256 tokens and the order HF's trainer gives a full alphabet.
const std::array<uint8_t, 256>& bytes_in_symbol_order();

// Raw bytes -> their symbols ("a b" -> "aĠb").
std::string bytes_to_symbols(std::string_view bytes);

// Symbols -> raw bytes. A character outside the alphabet stands for its own UTF-8 bytes
// (as HF's ByteLevel decoder does); invalid UTF-8 in `symbols` is copied through.
std::string symbols_to_bytes(std::string_view symbols);

}  // namespace utt
