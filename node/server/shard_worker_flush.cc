// ShardWorker's side of FLUSHALL (see "Flush" in shard_worker.h and docs/replication.md). Split
// from shard_worker.cc to keep files small; same class, same thread rules (the worker's thread).

#include <string>

#include "common/wire/version_wire.h"
#include "node/server/node_flush.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

void ShardWorker::HandleFlush(Connection* c, const wire::Envelope& envelope,
                              std::span<const uint8_t> frame) {
  const wire::FlushRequest* request = envelope.message_as_FlushRequest();
  const Version marker = wire::FromWire(request->version());
  if (marker.IsZero()) {
    stats_.bad_requests.Inc();
    ReplyError(c, envelope.request_id(), wire::ErrorCode::BadRequest,
               "FlushRequest needs a non-zero version");
    return;
  }
  // As for a write: a marker too far ahead of this node's clock is refused (it would flush
  // writes that are still to come).
  const int64_t ahead_ms = static_cast<int64_t>(HlcWallMs(marker.hlc)) - node_.clock.NowMs();
  if (ahead_ms > node_.config.max_clock_offset_ms) {
    stats_.clock_skew_rejections.Inc();
    ReplyError(c, envelope.request_id(), wire::ErrorCode::ClockSkew,
               "flush marker " + std::to_string(ahead_ms) +
                   "ms ahead of the local clock (max_clock_offset " +
                   std::to_string(node_.config.max_clock_offset_ms) + "ms)");
    return;
  }
  StatusOr<bool> raised = node_.flush_mark.Raise(marker);
  if (!raised.ok()) {
    ReplyError(c, envelope.request_id(), wire::ErrorCode::Internal,
               "cannot persist the flush marker: " + raised.status().message());
    return;
  }
  // Every shard applies it (a no-op where it is already applied) before the answer, so that a
  // FlushResponse means: nothing older is held or accepted on this node any more.
  const uint64_t gather_id = StartGather(c, envelope, frame);
  AddGatherPart(gather_id, GatherPart(envelope));
}

void ShardWorker::OfferFlushMark(Connection* c, const wire::Version* marker) {
  if (marker == nullptr) return;
  if (!c->authenticated) {
    // Kept for Auth: an unauthenticated peer cannot flush this node.
    c->offered_flush_hlc = marker->hlc();
    c->offered_flush_writer = marker->writer();
    return;
  }
  const Version m = wire::FromWire(*marker);
  if (AdoptFlushMark(node_, m, static_cast<int>(index_))) store_.Flush(m);
}

}  // namespace shoal::node
