#include "node/server/shard_mailbox.h"

namespace shoal::node {

void MessageBatch::Append(ShardMessageKind kind, uint32_t origin_shard, uint64_t conn_id,
                          std::span<const uint8_t> frame, uint32_t request_bytes) {
  const uint32_t len = static_cast<uint32_t>(frame.size());
  const size_t total = MessageBytes(len);
  uint8_t* p = bytes_.PrepareWrite(total).data();
  std::memset(p, 0, kHeaderBytes);
  p[0] = static_cast<uint8_t>(kind);
  std::memcpy(p + 4, &origin_shard, 4);
  std::memcpy(p + 8, &conn_id, 8);
  std::memcpy(p + 16, &request_bytes, 4);
  std::memcpy(p + 20, &len, 4);
  if (len > 0) std::memcpy(p + kHeaderBytes, frame.data(), len);
  if (total > kHeaderBytes + len) std::memset(p + kHeaderBytes + len, 0, total - kHeaderBytes - len);
  bytes_.Commit(total);
  ++count_;
}

int ShardMailbox::Open(uv_loop_t* loop, uv_async_cb on_wake, void* data) {
  const int rc = uv_async_init(loop, &async_, on_wake);
  if (rc != 0) return rc;
  async_.data = data;
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = false;
  return 0;
}

bool ShardMailbox::Post(MessageBatch& batch) {
  if (batch.empty()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    batch.Clear();
    return false;
  }
  const bool was_empty = pending_.empty();
  if (was_empty) {
    pending_.swap(batch);  // no copy: the sender gets the (empty) pending storage back
  } else {
    pending_.AppendAll(batch);
  }
  batch.Clear();
  // Under the lock, so that Close() cannot run between the check above and the send. Only the
  // first post into an empty batch wakes the owner: later ones ride on the same wake-up.
  if (was_empty) uv_async_send(&async_);
  return true;
}

void ShardMailbox::RequestStop() {
  stop_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_) uv_async_send(&async_);
}

size_t ShardMailbox::pending_capacity() {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.capacity();
}

void ShardMailbox::Take(MessageBatch& out) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.swap(out);
}

void ShardMailbox::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    pending_.Clear(0);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

}  // namespace shoal::node
