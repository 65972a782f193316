#pragma once

// KeyOp: the worker's record of one key's fan-out (private to Worker; pooled and reused).
//
// The quorum logic lives in `machine` (proxy/quorum/key_operation.h, I/O-free); this record adds
// what the worker needs to carry it out: the replicas' ring members, which requests are still
// in flight (by the machine's tags), the deadline of the current phase, and where the client's
// answer goes. The client hears once, when the machine answers (ClientConnection::OnKeyDecided);
// the op lives on until every request has been answered or timed out, so that late replies take
// part in read-repair, then returns to the pool and its generation changes, so that answers still
// in flight for it are recognised as stale.

#include <cstdint>
#include <string>

#include "common/ring/ring.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {

class ClientConnection;
struct ReplySlot;

struct KeyOp {
  uint32_t index = 0;  // slot in the worker's pool (PendingRef::owner)
  uint32_t generation = 0;
  bool in_use = false;
  bool decided = false;  // the client has its answer

  ClientConnection* client = nullptr;  // null once the client stops caring (never dangling)
  ReplySlot* slot = nullptr;
  uint32_t key_index = 0;

  std::string key;  // capacity reused
  int n = 0;
  int members[Ring::kMaxReplicas] = {};
  // Writes only: the owners a JOINING member adds (ClusterView::pending_ring), as slots. Each
  // write round's Put or Touch is copied to them; their answers are not counted (nor awaited).
  int joining_count = 0;
  int joining[Ring::kMaxReplicas] = {};
  uint64_t pending = 0;  // bit t: the request tagged t is in flight (PendingRef::slot = tag)
  int64_t deadline_ms = 0;
  std::string node_error;  // first error message a node answered with
  size_t charged = 0;      // machine.gathered_bytes() charged to `client` (ChargeGathered)

  KeyOperation machine;

  // Deadline list (FIFO: every phase has the same timeout).
  KeyOp* prev = nullptr;
  KeyOp* next = nullptr;
};

}  // namespace shoal::proxy
