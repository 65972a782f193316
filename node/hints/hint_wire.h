#pragma once

// The wire side of hinted handoff: checking a HintPut, turning it into a Hint, and the frames a
// node builds for hints (HintAck to the sender, Put to the target on replay). Plain functions, no
// thread rules (each caller passes its own FrameBuilder).

#include <cstdint>
#include <span>
#include <string_view>

#include "common/wire/frame.h"
#include "node/hints/hint_record.h"
#include "schemas/shoal_generated.h"

namespace shoal::node::hints {

// Nullptr when `hint_put` can be spooled by node `self_id`, else why not (a static string for an
// Error BadRequest): no target, a target with a NUL byte or naming this node, no put, a put with
// no key or version, a key over kMaxKeyBytes, an expiry_version older than the version, an
// expiry out of range, or a conditional put (NX/XX are evaluated on each replica at write time:
// a hint cannot carry them).
const char* ValidateHintPut(const wire::HintPut& hint_put, std::string_view self_id);

// The hint a validated HintPut carries (stored_ms is set when it is spooled).
Hint HintFromWire(const wire::HintPut& hint_put);

std::span<const uint8_t> BuildHintAckFrame(FrameBuilder& builder, uint64_t request_id, bool stored,
                                           std::string_view reason);

// The Put that replays `hint` to its target: the whole state, version and expiry_version.
std::span<const uint8_t> BuildReplayPutFrame(FrameBuilder& builder, uint64_t request_id,
                                             const Hint& hint);

}  // namespace shoal::node::hints
