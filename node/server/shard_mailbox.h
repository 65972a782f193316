#pragma once

// Messages between the shard threads of one node, and the mailbox each thread receives them in.
//
// A request that arrives on thread A for a key owned by shard B is copied, whole frame, into A's
// outgoing batch for B; B executes it against its store and sends the response frame back in a
// batch for A, tagged with the id of the connection it came from. Connections are named by id,
// never by pointer, so a connection that closes meanwhile simply drops its late responses.
//
// A MessageBatch is a run of messages in one byte buffer, no allocation per message:
//
//   0      1       4            8          16                  20        24             24+len
//   +------+-------+------------+----------+-------------------+---------+--------------+-----+---
//   | kind | (pad) | origin u32 | conn u64 | request_bytes u32 | len u32 | frame (len B) | pad | next
//   +------+-------+------------+----------+-------------------+---------+--------------+-----+---
//
// request_bytes: on a response, the size of the request frame it answers (the origin releases
// that much of the connection's cross-shard budget); 0 otherwise. Each message is padded to a
// multiple of 8 bytes, and the buffer's storage is 8-aligned, so every frame in a batch starts
// aligned and is read in place by FlatBuffers (common/wire/frame.h, "Alignment").
//
// A ShardMailbox is a mutex-protected pending batch plus a uv_async that wakes the owner's loop.
// Senders append a whole batch under the lock (or swap it in when the pending batch is empty) and
// wake the owner only when the pending batch was empty; the owner swaps the pending batch out
// under the lock and processes it without the lock. Lock hold times are a memcpy at most.

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>

#include "common/buffer/byte_buffer.h"

namespace shoal::node {

enum class ShardMessageKind : uint8_t {
  kRequest = 1,        // a request frame to execute on the receiving shard
  kResponse = 2,       // a response frame for connection `conn_id` of the receiving thread
  kCeilingRaised = 3,  // from the main thread: the clock ceiling moved (no frame)
  // A request every shard answers a part of (conn_id: the origin's gather id), and a part.
  kGatherRequest = 4,
  kGatherResponse = 5,
};

struct ShardMessage {
  ShardMessageKind kind;
  uint32_t origin_shard;
  uint64_t conn_id;
  uint32_t request_bytes;
  std::span<const uint8_t> frame;  // points into the batch
};

class MessageBatch {
 public:
  void Append(ShardMessageKind kind, uint32_t origin_shard, uint64_t conn_id,
              std::span<const uint8_t> frame, uint32_t request_bytes = 0);

  // Calls fn(const ShardMessage&) for each message in order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    const uint8_t* p = bytes_.data();
    const uint8_t* end = p + bytes_.size();
    while (p < end) {
      ShardMessage m;
      uint32_t len;
      m.kind = static_cast<ShardMessageKind>(p[0]);
      std::memcpy(&m.origin_shard, p + 4, 4);
      std::memcpy(&m.conn_id, p + 8, 8);
      std::memcpy(&m.request_bytes, p + 16, 4);
      std::memcpy(&len, p + 20, 4);
      m.frame = {p + kHeaderBytes, len};
      fn(m);
      p += MessageBytes(len);
    }
  }

  bool empty() const { return bytes_.empty(); }
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_.size(); }
  size_t capacity() const { return bytes_.capacity(); }
  // Storage an emptied batch keeps for reuse; a larger one (after a burst or a large frame) is
  // freed, so that idle batches hold at most this much.
  static constexpr size_t kKeepBytes = 256 * 1024;
  // Empties the batch, keeping up to `keep_bytes` of storage.
  void Clear(size_t keep_bytes = kKeepBytes) {
    bytes_.Clear();
    bytes_.ReleaseIfIdle(keep_bytes);
    count_ = 0;
  }
  // Appends all of `other`'s messages.
  void AppendAll(const MessageBatch& other) {
    bytes_.Append(other.bytes_.data(), other.bytes_.size());
    count_ += other.count_;
  }
  void swap(MessageBatch& other) noexcept {
    bytes_.swap(other.bytes_);
    std::swap(count_, other.count_);
  }

  static constexpr size_t kHeaderBytes = 24;
  static constexpr size_t kAlignment = 8;
  // A message's bytes in the batch: header, frame, padding.
  static constexpr size_t MessageBytes(size_t frame_bytes) {
    return (kHeaderBytes + frame_bytes + kAlignment - 1) / kAlignment * kAlignment;
  }

 private:
  ByteBuffer bytes_;
  size_t count_ = 0;
};

class ShardMailbox {
 public:
  ShardMailbox() = default;
  ShardMailbox(const ShardMailbox&) = delete;
  ShardMailbox& operator=(const ShardMailbox&) = delete;

  // Owner thread, before any sender may post: binds the mailbox to the owner's loop. `on_wake`
  // runs on the owner thread (with `data` as the uv_async's data) after one or more posts.
  int Open(uv_loop_t* loop, uv_async_cb on_wake, void* data);

  // Any thread. Moves `batch`'s messages into the mailbox (leaving `batch` empty, possibly with
  // other storage) and wakes the owner. Returns false, dropping the messages, once the mailbox
  // is closed (the owner is shutting down).
  bool Post(MessageBatch& batch);

  // Any thread: asks the owner to shut down (seen as stop_requested() in on_wake).
  void RequestStop();
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }

  // Owner thread: swaps the pending messages into `out` (which should be empty).
  void Take(MessageBatch& out);

  // Any thread: storage held by the pending batch (for the node's memory report).
  size_t pending_capacity();

  // Owner thread: refuses further posts and closes the uv_async (freed by the loop; the mailbox
  // object itself must outlive the loop run that closes it).
  void Close();

 private:
  std::mutex mu_;
  MessageBatch pending_;  // guarded by mu_
  bool closed_ = true;    // guarded by mu_; false between Open() and Close()
  std::atomic<bool> stop_{false};
  uv_async_t async_{};
};

}  // namespace shoal::node
