#pragma once

// Reading the request id of a frame the node will not take whole (larger than --max-frame-size),
// from the bytes it has of its beginning, so that the Error TooLarge it answers can carry the id.
//
// FlatBuffers builders write the root table (the Envelope, whose first field is request_id)
// last, so it sits at the front of the buffer; the id is read from there with every offset
// checked against the bytes available. Nothing else of the frame is trusted or read.

#include <cstddef>
#include <cstdint>
#include <optional>

namespace shoal::node {

// Bytes of a frame's beginning (length prefix included) worth waiting for before giving up on
// its request id.
inline constexpr size_t kPeekFrameBytes = 512;

// The request id of the frame starting at `data` (length prefix included) when it can be read
// from its first `size` bytes; nullopt when it cannot (the Envelope is not within them, or the
// offsets do not make sense). An absent field reads as 0, the schema's default.
std::optional<uint64_t> PeekRequestId(const uint8_t* data, size_t size);

}  // namespace shoal::node
