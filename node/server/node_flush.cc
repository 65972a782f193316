#include "node/server/node_flush.h"

#include <spdlog/spdlog.h>

#include "common/wire/version_wire.h"
#include "node/server/shard_mailbox.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

std::span<const uint8_t> BuildFlushRequestFrame(FrameBuilder& builder, uint64_t request_id,
                                                Version marker) {
  auto& b = builder.Start();
  const wire::Version v = wire::ToWire(marker);
  auto req = wire::CreateFlushRequest(b, &v);
  return builder.Finish(request_id, wire::Message::FlushRequest, req.Union());
}

bool AdoptFlushMark(NodeContext& node, Version marker, int skip_shard) {
  if (marker.IsZero()) return false;
  StatusOr<bool> raised = node.flush_mark.Raise(marker);
  if (!raised.ok()) {
    spdlog::warn("cannot adopt flush marker {}.{}: {}", marker.hlc, marker.writer,
                 raised.status().message());
    return false;
  }
  if (!*raised) return false;
  spdlog::info("adopting flush marker {}.{} learned from a peer", marker.hlc, marker.writer);
  FrameBuilder builder(256);
  std::span<const uint8_t> frame = BuildFlushRequestFrame(builder, 0, marker);
  // A gather part nobody waits for: gather id 0 is never used (ShardWorker::next_gather_id_).
  for (ShardWorker* w : node.workers) {
    if (static_cast<int>(w->index()) == skip_shard) continue;
    MessageBatch batch;
    batch.Append(ShardMessageKind::kGatherRequest, w->index(), 0, frame);
    w->mailbox().Post(batch);
  }
  return true;
}

}  // namespace shoal::node
