// ShardWorker: Repair (one anti-entropy round on demand). See shard_worker.h, "Repair", and
// anti_entropy.h.

#include "node/server/anti_entropy.h"
#include "node/server/repair.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

void ShardWorker::HandleRepair(Connection* c, const wire::Envelope& envelope,
                               std::span<const uint8_t> frame) {
  const uint64_t id = envelope.request_id();
  AntiEntropy* driver = node_.anti_entropy_driver;
  if (driver == nullptr) {
    Reply(c, BuildRepairResponseFrame(
                 builder_, id,
                 RepairRefused("this node has no cluster members (--nodes): no peers to repair "
                               "with")));
    return;
  }
  // Answered from the anti-entropy thread through this shard's mailbox, like a hint: the
  // connection counts it in flight (backpressure, draining).
  const uint32_t shard = index_;
  const uint64_t conn_id = c->id;
  const auto request_bytes = static_cast<uint32_t>(frame.size());
  NodeContext* node = &node_;
  const bool queued =
      driver->RequestRepair([node, shard, conn_id, id, request_bytes](const RepairResult& result) {
        FrameBuilder builder(256);
        MessageBatch batch;
        batch.Append(ShardMessageKind::kResponse, shard, conn_id,
                     BuildRepairResponseFrame(builder, id, result), request_bytes);
        // The workers outlive the driver's thread (NodeServer::Stop stops it first); a closed
        // mailbox drops the answer, as it drops any response to a closed connection.
        node->workers[shard]->mailbox().Post(batch);
      });
  if (!queued) {
    Reply(c, BuildRepairResponseFrame(builder_, id, RepairRefused("the node is shutting down")));
    return;
  }
  ++c->remote_in_flight;
  c->remote_request_bytes += frame.size();
}

}  // namespace shoal::node
