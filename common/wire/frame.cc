#include "common/wire/frame.h"

#include <cassert>
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

std::span<const uint8_t> FrameScratch::Copy(const uint8_t* data, size_t n) {
  const size_t words = (n + sizeof(uint64_t) - 1) / sizeof(uint64_t);
  if (words > words_) {
    storage_ = std::make_unique_for_overwrite<uint64_t[]>(words);
    words_ = words;
  }
  uint8_t* bytes = reinterpret_cast<uint8_t*>(storage_.get());
  if (n > 0) std::memcpy(bytes, data, n);
  return {bytes, n};
}

void FrameScratch::Release(size_t keep_bytes) {
  if (capacity() > keep_bytes) {
    storage_.reset();
    words_ = 0;
  }
}

namespace {

// Verifies the whole frame at `data` (aligned, `total` bytes) and fills `out` on success.
FrameStatus VerifyFrame(const uint8_t* data, size_t total, DecodedFrame* out) {
  flatbuffers::Verifier::Options options;
  // `data` is aligned: demanding every scalar at an aligned offset from it makes every read of
  // the envelope an aligned one (FrameBuilder's frames always comply).
  options.check_alignment = true;
  options.max_depth = 16;
  options.max_tables = kMaxFrameTables;
  flatbuffers::Verifier verifier(data, total, options);
  if (!wire::VerifySizePrefixedEnvelopeBuffer(verifier)) return FrameStatus::kCorrupt;
  const wire::Envelope* env = wire::GetSizePrefixedEnvelope(data);
  // A type with no message (the verifier accepts an absent union value) is as empty as NONE:
  // refusing it here spares every reader a null check.
  if (env->message_type() == wire::Message::NONE || env->message() == nullptr) {
    return FrameStatus::kCorrupt;
  }
  out->envelope = env;
  out->frame = {data, total};
  return FrameStatus::kOk;
}

// Checks the prefix: kOk when a whole frame of out->frame_bytes is in `size` bytes.
FrameStatus CheckPrefix(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        DecodedFrame* out) {
  *out = DecodedFrame();
  if (size < kFrameHeaderBytes) return FrameStatus::kNeedMore;
  uint32_t length;
  std::memcpy(&length, data, sizeof(length));
  length = flatbuffers::EndianScalar(length);
  if (length > max_frame_bytes) return FrameStatus::kTooLarge;
  const size_t total = kFrameHeaderBytes + static_cast<size_t>(length);
  out->frame_bytes = total;
  if (size < total) return FrameStatus::kNeedMore;
  if (length == 0) return FrameStatus::kCorrupt;
  return FrameStatus::kOk;
}

}  // namespace

FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        FrameScratch& scratch, DecodedFrame* out) {
  const FrameStatus st = CheckPrefix(data, size, max_frame_bytes, out);
  if (st != FrameStatus::kOk) return st;
  if (IsFrameAligned(data)) return VerifyFrame(data, out->frame_bytes, out);
  const std::span<const uint8_t> copy = scratch.Copy(data, out->frame_bytes);
  return VerifyFrame(copy.data(), copy.size(), out);
}

FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        DecodedFrame* out) {
  assert(IsFrameAligned(data) && "a frame at any offset needs DecodeFrame with a FrameScratch");
  const FrameStatus st = CheckPrefix(data, size, max_frame_bytes, out);
  if (st != FrameStatus::kOk) return st;
  return VerifyFrame(data, out->frame_bytes, out);
}

void PatchRequestId(std::span<const uint8_t> frame, uint8_t* copy, uint64_t request_id) {
  assert(IsFrameAligned(frame.data()));
  // Envelope derives privately from Table; the field's address is the Table's to give.
  const auto* table =
      reinterpret_cast<const flatbuffers::Table*>(wire::GetSizePrefixedEnvelope(frame.data()));
  const uint8_t* field = table->GetAddressOf(wire::Envelope::VT_REQUEST_ID);
  assert(field != nullptr && "built with request id 0: the field is absent");
  const uint64_t le = flatbuffers::EndianScalar(request_id);
  std::memcpy(copy + (field - frame.data()), &le, sizeof(le));
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
