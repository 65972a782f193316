#pragma once

// The node messages of a KeyOperation (proxy/quorum/key_operation.h): its requests and repairs as
// wire frames, and the nodes' answers decoded into its input. Pure (no I/O): the proxy's workers
// (proxy/server/worker.cc) and the replication simulation (tools/sim/sim_proxy.cc) both speak to
// the nodes through these, so the simulation's proxy reads and writes what the proxy does.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/wire/frame.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {

// Encodes `request` (a Get, a Put whose expiry version is its version, a Touch, or a HintPut:
// that same Put wrapped with `hint_target`, the id of the owner it is for) for `key`.
// The frame lives in `builder` until its next Start().
std::span<const uint8_t> BuildKeyRequest(FrameBuilder& builder, uint64_t request_id,
                                         std::string_view key, const NodeRequest& request,
                                         std::string_view hint_target = {});

// Encodes the whole-state Put that read-repair sends (KeyOperation::repair_state(),
// repair_value() and repair_type(): both versions, expiry, tombstone, a typed value's merged
// body). The frame lives in `builder` until its next Start().
std::span<const uint8_t> BuildRepairPut(FrameBuilder& builder, uint64_t request_id,
                                        std::string_view key, const EntryState& state,
                                        std::string_view value,
                                        typed::ValueType value_type = typed::ValueType::kString);

// What a node's answer was, for the caller's counters.
enum class KeyReplyKind : unsigned char {
  kReply,      // a reply of the request's type, fed to OnGet / OnPut / OnTouch / OnHintAck
  kFailure,    // no answer (timeout, connection failure): OnFailure
  kNotReady,   // Error{NotReady} (warming up after an empty start): OnNotReady; or a PutResponse
               // with not_ready (applied by a warming node, not counted toward W): OnPut
  kNodeError,  // any other Error: OnFailure; its message is kept in *node_error if empty
  kWrongType,  // an answer of another type: OnFailure
};

// Feeds the answer to the request tagged `tag` to `machine`: `envelope` is the node's answer, or
// null for a failure. `node_error` (may be null) receives the first error message an owner sent
// (a hint holder's error does not explain a NOQUORUM).
KeyReplyKind FeedKeyReply(KeyOperation& machine, uint8_t tag, const wire::Envelope* envelope,
                          int64_t now_ms, std::string* node_error);

}  // namespace shoal::proxy
