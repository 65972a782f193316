// ShardWorker: HintPut (hinted handoff). See shard_worker.h, "Hints", and node/hints/.

#include <string>

#include "common/clock/hlc.h"
#include "node/hints/hint_service.h"
#include "node/hints/hint_wire.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

void ShardWorker::HandleHintPut(Connection* c, const wire::Envelope& envelope,
                                std::span<const uint8_t> frame) {
  const uint64_t id = envelope.request_id();
  const wire::HintPut& hint_put = *envelope.message_as_HintPut();
  if (const char* error = hints::ValidateHintPut(hint_put, node_.config.id)) {
    stats_.bad_requests.Inc();
    ReplyError(c, id, wire::ErrorCode::BadRequest, error);
    return;
  }
  auto refuse = [&](std::string_view why) {
    Reply(c, hints::BuildHintAckFrame(builder_, id, /*stored=*/false, why));
  };
  hints::HintService* service = node_.hints;
  if (service == nullptr) {
    refuse("this node has no cluster members (--nodes): it cannot deliver hints");
    return;
  }
  const std::string_view target = hint_put.target()->string_view();
  if (node_.members->Current()->ring->IndexOf(target) < 0) {
    hint_counters_.refused.Inc();
    refuse("hint target '" + std::string(target) + "' is not a member of this node's cluster");
    return;
  }
  // The same clock check as a Put's: the target would refuse the version anyway.
  const uint64_t hlc = hint_put.put()->version()->hlc();
  const int64_t now = node_.clock.NowMs();
  const int64_t ahead_ms = static_cast<int64_t>(HlcWallMs(hlc)) - now;
  if (ahead_ms > node_.config.max_clock_offset_ms) {
    stats_.clock_skew_rejections.Inc();
    ReplyError(c, id, wire::ErrorCode::ClockSkew,
               "timestamp " + std::to_string(ahead_ms) +
                   "ms ahead of the local clock (max_clock_offset " +
                   std::to_string(node_.config.max_clock_offset_ms) + "ms)");
    return;
  }
  hints::Hint hint = hints::HintFromWire(hint_put);
  if (hint.expire_at_ms != 0 && hint.expire_at_ms <= now) {
    hint_counters_.expired.Inc();
    refuse("the key's expiry has passed: nothing to hand off");
    return;
  }
  if (const char* why = service->spool().Admit(hint.SpoolBytes())) {
    hint_counters_.refused.Inc();
    refuse(why);
    return;
  }
  // Answered from the writer thread through this shard's mailbox, like a cross-shard request:
  // the connection counts it in flight (backpressure, draining).
  ++c->remote_in_flight;
  c->remote_request_bytes += frame.size();
  service->writer().Submit(
      std::move(hint), hints::HintTicket{index_, c->id, id, static_cast<uint32_t>(frame.size())});
}

}  // namespace shoal::node
