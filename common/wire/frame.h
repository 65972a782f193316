#pragma once

// Frames of the node protocol (layout in schemas/shoal.fbs):
//
//   +----------------+--------------------------------+
//   | length (u32 LE)|  Envelope (FlatBuffers root)   |
//   +----------------+--------------------------------+
//
// Decoding never trusts a byte: the length is checked against a limit before anything is
// buffered for it, and the envelope is run through the FlatBuffers verifier before it is read.
//
// Alignment. FlatBuffers reads scalars through typed pointers, so a frame must start at an
// address aligned for its largest scalar (kFrameAlignment: the u64 hlc, ids and expiries), and
// every scalar inside must sit at an aligned offset from that start (FrameBuilder always lays
// them out so; the verifier refuses a frame that does not). A frame built by FrameBuilder, or
// copied into a std::vector or a ByteBuffer at offset 0, is aligned. One that arrives at an
// arbitrary offset of a receive buffer may not be: DecodeFrame then copies it into the caller's
// FrameScratch (only then: frames of well-behaved peers are multiples of 8 bytes long, so in a
// receive buffer they normally stay aligned and are read in place).

#include <cstddef>
#include <cstdint>
#include <memory>
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
// Most tables a frame may hold (the verifier refuses more: a bound on the work a peer's frame can
// cause). A response listing many entries, each a table, must stay under it: the envelope and
// the response are two more.
inline constexpr uint32_t kMaxFrameTables = 4096;

enum class FrameStatus : unsigned char {
  kOk,        // a whole, verified frame is available
  kNeedMore,  // not enough bytes yet
  kTooLarge,  // the length prefix exceeds the limit: close the connection
  kCorrupt,   // the envelope fails verification or carries no message: close the connection
};

const char* FrameStatusName(FrameStatus status);

inline constexpr size_t kFrameAlignment = 8;

inline bool IsFrameAligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kFrameAlignment == 0;
}

// Aligned storage DecodeFrame copies a misaligned frame into. Owned by the caller (one per
// connection or per thread), reused from frame to frame; its storage grows to the largest frame
// copied until Release(). Not thread-safe.
class FrameScratch {
 public:
  // Copies `n` bytes into the scratch and returns the (aligned) copy, valid until the next Copy
  // or Release.
  std::span<const uint8_t> Copy(const uint8_t* data, size_t n);
  // Frees the storage when it holds more than `keep_bytes` (after a large frame).
  void Release(size_t keep_bytes);
  size_t capacity() const { return words_ * sizeof(uint64_t); }

 private:
  std::unique_ptr<uint64_t[]> storage_;  // uint64_t: aligned to kFrameAlignment
  size_t words_ = 0;
};

struct DecodedFrame {
  const wire::Envelope* envelope = nullptr;  // points into `frame`
  // The verified frame (prefix + envelope), aligned: the caller's bytes, or the scratch copy of
  // them when they were misaligned.
  std::span<const uint8_t> frame;
  size_t frame_bytes = 0;  // prefix + envelope: bytes to consume from the caller's buffer
};

// Looks at the front of `data` for one frame. On kOk fills `out`: when `data` is aligned the
// envelope points into the caller's bytes and stays valid while they do; otherwise into a copy in
// `scratch`, valid until the scratch is next used. On kNeedMore, `out->frame_bytes` is the whole
// frame's size when the prefix was readable (so the caller can reserve), else 0.
FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        FrameScratch& scratch, DecodedFrame* out);

// The same for bytes aligned by construction (a std::vector, a builder's output, offset 0 of a
// buffer): `data` must be IsFrameAligned (debug-asserted).
FrameStatus DecodeFrame(const uint8_t* data, size_t size, uint32_t max_frame_bytes,
                        DecodedFrame* out);

// Writes `request_id` into `copy`, a byte copy of `frame` placed at any address (memcpy: no
// alignment needed), so that one built frame can go to several peers under different ids.
// `frame` is the aligned original (a FrameBuilder's output) and its envelope must carry the
// field (built with a non-zero id; debug-asserted).
void PatchRequestId(std::span<const uint8_t> frame, uint8_t* copy, uint64_t request_id);

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
