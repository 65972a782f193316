#pragma once

// Frames of the node protocol (layout in schemas/shoal.fbs):
//
//   +----------------+--------------------------------+
//   | length (u32 LE)|  Envelope (FlatBuffers root)   |
//   +----------------+--------------------------------+
//
// Decoding never trusts a byte: the length is checked against a limit before anything is
// buffered for it, and the envelope is run through the FlatBuffers verifier before it is read.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "flatbuffers/flatbuffers.h"
#include "schemas/shoal_generated.h"

namespace shoal {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kProtocolVersion = 1;
// Default largest envelope accepted (keys up to 512 KiB and values up to 512 MiB are Redis's
// limits; Shoal caps a frame, and so a value, at 64 MiB by default).
inline constexpr uint32_t kDefaultMaxFrameBytes = 64u << 20;
// Longest key the protocol carries (nodes refuse longer ones with BadRequest; the proxy refuses
// them before sending).
inline constexpr size_t kMaxKeyBytes = 512 * 1024;

enum class FrameStatus : unsigned char {
  kOk,        // a whole, verified frame is available
  kNeedMore,  // not enough bytes yet
  kTooLarge,  // the length prefix exceeds the limit: close the connection
  kCorrupt,   // the envelope fails verification or carries no message: close the connection
};

const char* FrameStatusName(FrameStatus status);

struct DecodedFrame {
  const wire::Envelope* envelope = nullptr;  // points into the caller's buffer
  size_t frame_bytes = 0;                    // prefix + envelope: bytes to consume
};

// Looks at the front of `data` for one frame. On kOk fills `out`; the envelope stays valid while
// the caller's bytes do. On kNeedMore, `out->frame_bytes` is the whole frame's size when the
// prefix was readable (so the caller can reserve), else 0.
FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        DecodedFrame* out);

// Builds frames into one reusable FlatBufferBuilder (its memory is kept between frames).
// Not thread-safe: one per thread or connection.
//
//   FrameBuilder fb;
//   auto& b = fb.Start();
//   auto get = wire::CreateGet(b, b.CreateVector(key_bytes, key_len));
//   std::span<const uint8_t> frame = fb.Finish(request_id, wire::Message::Get, get.Union());
class FrameBuilder {
 public:
  explicit FrameBuilder(size_t initial_bytes = 1024) : builder_(initial_bytes) {}

  // Clears the builder for a new frame and returns it.
  flatbuffers::FlatBufferBuilder& Start() {
    builder_.Clear();
    return builder_;
  }

  // Finishes the envelope and returns the whole frame (prefix included). The span is valid until
  // the next Start().
  std::span<const uint8_t> Finish(uint64_t request_id, wire::Message type,
                                  flatbuffers::Offset<void> message);

  flatbuffers::FlatBufferBuilder& builder() { return builder_; }

 private:
  flatbuffers::FlatBufferBuilder builder_;
};

// Helpers for byte vectors in messages.
inline flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Bytes(flatbuffers::FlatBufferBuilder& b,
                                                               std::string_view s) {
  return b.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsView(const flatbuffers::Vector<uint8_t>* v) {
  if (v == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(v->data()), v->size());
}

}  // namespace shoal
