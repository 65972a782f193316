#pragma once

// Connection: one client (proxy, node or tool) connection, owned by the shard thread that
// accepted it. Created on accept; freed in the uv_close callback. Other threads never hold a
// pointer to it: they name it by `id` (unique within its thread), so a response that comes back
// after the connection closed is dropped by a failed lookup.
//
// Life: reading → (EOF, bad frame, refused Hello or Auth, or shutdown) draining: no more requests
// are read, the connection closes once every accepted request is answered and written → closing.

#include <uv.h>

#include <cstdint>
#include <string>

#include "common/auth/handshake.h"
#include "common/buffer/byte_buffer.h"

namespace shoal::node {

struct Connection {
  uv_tcp_t tcp{};          // tcp.data == this
  uv_write_t write_req{};  // write_req.data == this; one uv_write in flight at most
  uint64_t id = 0;
  std::string peer;  // "ip:port", for logs

  ByteBuffer in;          // received bytes not yet handled (a partial frame; more while paused)
  ByteBuffer out;         // encoded responses waiting to be written
  ByteBuffer writing;     // bytes handed to the in-flight uv_write
  size_t skip_bytes = 0;  // bytes of a frame over the limit still to drop (see ShardWorker)
  size_t partial_frame_bytes = 0;   // whole size of the partial frame at the head of `in`, if known
  uint32_t remote_in_flight = 0;    // requests handed to other shards, not yet answered
  size_t remote_request_bytes = 0;  // their frames' bytes (copied into batches or parked)
  // Expected size of one response from another shard, for admission (see ShardWorker's
  // "Backpressure"): starts at 1 MiB, jumps to any larger response, decays towards smaller ones.
  size_t remote_response_estimate = 1 << 20;

  // Cluster-secret handshake (ShardWorker "Hello and Auth"). Without a node secret every
  // connection starts authenticated.
  bool authenticated = false;
  // The peer said Hello as another node (role Node): its reads are served while this node
  // syncs (two nodes syncing at once must not wait on each other; node/sync/restart_sync.h).
  bool peer_is_node = false;
  bool challenged = false;     // a HelloResponse carried `challenge`
  auth::Nonce challenge{};     // the node's nonce for this connection's peer proof
  std::string peer_sender_id;  // Hello.sender_id, part of the peer proof
  // Hello.flush_version, adopted once the peer is authenticated (ShardWorker "Flush").
  uint64_t offered_flush_hlc = 0;
  uint64_t offered_flush_writer = 0;

  bool reading = false;  // wants the peer's bytes (false once draining)
  bool paused = false;   // backlogged (see ShardWorker::Backlogged): frames are left unhandled
                         // in `in` and the socket is not read until the peer catches up
  bool write_in_flight = false;
  bool dirty = false;     // queued for a flush at the end of this loop iteration
  bool draining = false;  // no more requests: close when everything is written
  bool closing = false;   // uv_close called
};

}  // namespace shoal::node
