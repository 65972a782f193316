#pragma once

// Adopting a flush marker node-wide (docs/replication.md, "Flush"). Any thread.
//
// AdoptFlushMark persists `marker` (FlushMark::Raise) and, when it grew, posts a FlushRequest to
// every shard's mailbox; each shard applies it to its store (ShardStore::Flush) on its own loop,
// shortly after the call returns. Used by every path a node learns a marker on besides a proxy's
// FlushRequest (which is answered only once every shard applied it, ShardWorker "Flush"): the
// Hello of an authenticated peer, DigestRequest and DigestResponse (anti-entropy and the start-up
// sync), and the HelloResponse of a peer. A marker that cannot be persisted is not adopted (logged;
// the next exchange offers it again).

#include <span>

#include "common/clock/hlc.h"
#include "common/wire/frame.h"
#include "node/server/node_context.h"

namespace shoal::node {

// Returns whether the marker grew. `skip_shard` (a shard thread calling it): that shard is not
// posted to; the caller applies the marker to its own store at once (so that a request it
// handles next cannot precede it).
bool AdoptFlushMark(NodeContext& node, Version marker, int skip_shard = -1);

// A FlushRequest frame for `marker`, valid until `builder`'s next Start().
std::span<const uint8_t> BuildFlushRequestFrame(FrameBuilder& builder, uint64_t request_id,
                                                Version marker);

}  // namespace shoal::node
