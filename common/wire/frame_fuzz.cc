// libFuzzer target for frame decoding (scripts/fuzz.sh builds and runs it: `make fuzz`).
//
// Feeds arbitrary bytes to DecodeFrame as a connection would: whole, then frame after frame.
// A frame reported kOk must lie within the input, and every field of its message must be
// readable (the verifier vouched for it), which is exercised by touching each one.
//
// Frames after the first sit at arbitrary offsets of the input, as in a receive buffer: the
// decoder reads them from its aligned scratch copy, and UBSan's alignment check stays on.
// fuzz-sources: common/wire/frame.cc

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/wire/frame.h"

namespace {

size_t Touch(const shoal::wire::Envelope& env) {
  using shoal::AsView;
  using shoal::wire::Message;
  size_t sum = static_cast<size_t>(env.request_id());
  switch (env.message_type()) {
    case Message::Hello: {
      const auto* m = env.message_as_Hello();
      if (m->cluster()) sum += m->cluster()->size();
      if (m->sender_id()) sum += m->sender_id()->size();
      break;
    }
    case Message::Get:
      sum += AsView(env.message_as_Get()->key()).size();
      break;
    case Message::Put: {
      const auto* m = env.message_as_Put();
      sum += AsView(m->key()).size() + AsView(m->value()).size();
      if (m->version()) sum += m->version()->hlc();
      break;
    }
    case Message::Touch:
      sum += AsView(env.message_as_Touch()->key()).size();
      break;
    case Message::GetResponse:
      sum += AsView(env.message_as_GetResponse()->value()).size();
      break;
    case Message::PutResponse:
      sum += AsView(env.message_as_PutResponse()->previous_value()).size();
      break;
    case Message::InfoResponse: {
      const auto* entries = env.message_as_InfoResponse()->entries();
      if (entries) {
        for (const auto* e : *entries) {
          if (e->name()) sum += e->name()->size();
          if (e->value()) sum += e->value()->size();
        }
      }
      break;
    }
    case Message::Error: {
      const auto* m = env.message_as_Error();
      if (m->message()) sum += m->message()->size();
      break;
    }
    default:
      break;
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t offset = 0;
  volatile size_t sink = 0;
  shoal::FrameScratch scratch;
  while (offset < size) {
    shoal::DecodedFrame frame;
    const shoal::FrameStatus st =
        shoal::DecodeFrame(data + offset, size - offset, 1u << 20, scratch, &frame);
    if (st != shoal::FrameStatus::kOk) break;
    if (frame.frame_bytes == 0 || frame.frame_bytes > size - offset) std::abort();
    if (frame.envelope == nullptr) std::abort();
    sink = sink + Touch(*frame.envelope);
    offset += frame.frame_bytes;
  }
  return 0;
}
