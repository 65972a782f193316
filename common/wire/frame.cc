#include "common/wire/frame.h"

#include <cstring>

namespace shoal {

const char* FrameStatusName(FrameStatus status) {
  switch (status) {
    case FrameStatus::kOk:
      return "ok";
    case FrameStatus::kNeedMore:
      return "need more";
    case FrameStatus::kTooLarge:
      return "frame too large";
    case FrameStatus::kCorrupt:
      return "frame fails verification";
  }
  return "unknown";
}

FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        DecodedFrame* out) {
  out->envelope = nullptr;
  out->frame_bytes = 0;
  if (size < kFrameHeaderBytes) return FrameStatus::kNeedMore;
  uint32_t length;
  std::memcpy(&length, data, sizeof(length));
  length = flatbuffers::EndianScalar(length);
  if (length > max_frame_bytes) return FrameStatus::kTooLarge;
  const size_t total = kFrameHeaderBytes + static_cast<size_t>(length);
  out->frame_bytes = total;
  if (size < total) return FrameStatus::kNeedMore;
  if (length == 0) return FrameStatus::kCorrupt;

  flatbuffers::Verifier::Options options;
  // Frames sit at arbitrary offsets of receive buffers; x86-64 and arm64 read unaligned scalars,
  // so alignment is not demanded (bounds, offsets and nesting still are).
  options.check_alignment = false;
  options.max_depth = 16;
  options.max_tables = 4096;
  flatbuffers::Verifier verifier(data, total, options);
  if (!wire::VerifySizePrefixedEnvelopeBuffer(verifier)) return FrameStatus::kCorrupt;
  const wire::Envelope* env = wire::GetSizePrefixedEnvelope(data);
  // A type with no message (the verifier accepts an absent union value) is as empty as NONE:
  // refusing it here spares every reader a null check.
  if (env->message_type() == wire::Message::NONE || env->message() == nullptr) {
    return FrameStatus::kCorrupt;
  }
  out->envelope = env;
  return FrameStatus::kOk;
}

std::span<const uint8_t> FrameBuilder::Finish(uint64_t request_id, wire::Message type,
                                              flatbuffers::Offset<void> message) {
  wire::EnvelopeBuilder env(builder_);
  env.add_request_id(request_id);
  env.add_message_type(type);
  env.add_message(message);
  builder_.FinishSizePrefixed(env.Finish());
  return {builder_.GetBufferPointer(), builder_.GetSize()};
}

}  // namespace shoal
