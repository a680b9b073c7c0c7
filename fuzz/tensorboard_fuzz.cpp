// libFuzzer target: the TensorBoard event reader (TFRecord framing, then each Event's header)
// that a resumed run uses to cut its event files must, on arbitrary bytes, return records
// within the input or stop, never crash or read outside it. Build with -DUTT_FUZZ=ON.
#include <cstdint>
#include <string_view>

#include "obs/tensorboard_events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const utt::FramedRecords framed = utt::read_framed_records(bytes);
  if (framed.intact_bytes > size) __builtin_trap();
  for (const utt::FramedRecord& record : framed.records) {
    if (record.end > framed.intact_bytes) __builtin_trap();
    (void)utt::decode_event_header(record.data);
  }
  // The bytes as one Event, too (they need no valid framing for that).
  (void)utt::decode_event_header(bytes);
  return 0;
}
