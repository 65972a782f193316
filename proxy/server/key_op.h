#pragma once

// KeyOp: one key's fan-out to its replicas, owned by a worker (pooled and reused).
//
// Created by Worker::StartKeyOp for a client command; the command learns the outcome once, when
// the quorum is decided (ClientConnection::OnKeyDecided). The op then lives on until every
// replica has answered or the deadline passed, so that late replies take part in read-repair;
// then it returns to the pool and its generation changes, so that answers still in flight for
// it are recognised as stale.

#include <cstdint>
#include <string>

#include "common/ring/ring.h"
#include "proxy/quorum/consistency.h"
#include "proxy/quorum/coordinator.h"

namespace shoal::proxy {

class ClientConnection;
struct ReplySlot;

enum class OpKind : unsigned char { kGet, kPut, kTouch };

// What a command asks of one key.
struct KeyRequest {
  OpKind kind = OpKind::kGet;
  std::string_view key;
  Consistency level = Consistency::kQuorum;
  bool want_value = true;  // get, touch
  // put
  std::string_view value;
  bool tombstone = false;
  unsigned char condition = 0;  // wire::PutCondition
  bool keep_ttl = false;
  bool want_previous = false;
  int64_t expire_at_ms = 0;  // put, touch
  unsigned char touch_condition = 0;  // wire::TouchCondition
};

struct KeyOp {
  uint32_t index = 0;  // slot in the worker's pool (PendingRef::owner)
  uint32_t generation = 0;
  bool in_use = false;
  bool decided = false;  // the client has its answer
  OpKind kind = OpKind::kGet;

  ClientConnection* client = nullptr;  // null once the client stops caring (never dangling)
  ReplySlot* slot = nullptr;
  uint32_t key_index = 0;

  std::string key;  // capacity reused
  int n = 0;
  int members[Ring::kMaxReplicas] = {};
  bool pending[Ring::kMaxReplicas] = {};
  int pending_count = 0;
  int64_t deadline_ms = 0;
  std::string node_error;  // first error message a node answered with

  ReadCoordinator read;
  WriteCoordinator write;

  // Deadline list (FIFO: every op has the same timeout).
  KeyOp* prev = nullptr;
  KeyOp* next = nullptr;

  QuorumDecision decision() const {
    return kind == OpKind::kGet ? read.decision() : write.decision();
  }
  const QuorumTally& tally() const { return kind == OpKind::kGet ? read.tally() : write.tally(); }
};

}  // namespace shoal::proxy
