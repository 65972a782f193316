#pragma once

// On-demand repair (`shoalctl --node H:P repair`, wire Repair / RepairResponse): the pieces of it
// that need no network, so that they can be tested alone. The round itself is run by the node's
// anti-entropy thread (anti_entropy.h, AntiEntropy::RequestRepair).
//
// Requests that arrive while a round is running are not answered by that round (it may already
// have compared the peers they care about): they wait for it to end and are then all served by
// one fresh round, which starts after every one of them arrived. RepairRequests is that queue;
// it has no lock of its own (the anti-entropy driver guards it with its mutex).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/wire/frame.h"

namespace shoal::node {

// The outcome of one on-demand round, as RepairResponse carries it.
struct RepairResult {
  bool ok = false;             // a round ran (possibly failing with some peers: see error)
  std::string error;           // !ok: why no round ran; ok: the peers the round failed with, if any
  uint32_t peers = 0;          // peers compared completely (push and pull)
  uint64_t keys_repaired = 0;  // states pushed to peers or pulled from them, and applied
  uint64_t bytes_repaired = 0;  // their key and value bytes
};

// Called once with the result, on the anti-entropy thread (or on the thread stopping the node).
using RepairDone = std::function<void(const RepairResult&)>;

class RepairRequests {
 public:
  // Queues a request. False (and `done` dropped, never called) once closed.
  bool Add(RepairDone done);
  // The requests queued so far (the round about to start serves them); empties the queue.
  std::vector<RepairDone> TakeAll();
  // Refuses further requests; returns those still queued (to be answered "shutting down").
  std::vector<RepairDone> Close();
  bool empty() const { return queued_.empty(); }
  bool closed() const { return closed_; }

 private:
  std::vector<RepairDone> queued_;
  bool closed_ = false;
};

// The answer of a node with no peers to repair with (a standalone node), or shutting down.
RepairResult RepairRefused(std::string why);

// Sums up a round: `peers_ok` peers compared completely, `failures` one "id: reason" per peer the
// round failed with, and the node's repaired counters' growth over the round.
RepairResult RepairRoundResult(uint32_t peers_ok, const std::vector<std::string>& failures,
                               uint64_t keys_repaired, uint64_t bytes_repaired);

// The RepairResponse frame (valid until the builder's next Start()).
std::span<const uint8_t> BuildRepairResponseFrame(FrameBuilder& builder, uint64_t request_id,
                                                  const RepairResult& result);

}  // namespace shoal::node
