#pragma once

// ByteBuffer: a growable byte queue for socket I/O. Bytes are appended at the tail and consumed
// from the head; storage is kept between uses (no allocation in steady state) and is left
// uninitialized when it grows.
//
//   0        head               tail              capacity
//   +--------+------------------+-----------------+
//   | spent  | readable bytes   | free (writable) |
//   +--------+------------------+-----------------+
//
// When the tail runs out of room, the readable bytes are moved to the front (compaction) if that
// frees enough; otherwise the buffer grows. Not thread-safe: owned by one connection or batch.
// Used by the node (libuv) and the proxy (libevent, through ReadFrom/WriteTo on raw fds).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace shoal {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  const uint8_t* data() const { return storage_.get() + head_; }
  uint8_t* mutable_data() { return storage_.get() + head_; }
  const char* chars() const { return reinterpret_cast<const char*>(data()); }
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }
  size_t capacity() const { return capacity_; }

  // Returns at least `min_free` writable bytes at the tail (compacting or growing). Write into
  // them, then Commit() how many were written.
  std::span<uint8_t> PrepareWrite(size_t min_free) {
    if (capacity_ - tail_ < min_free) MakeRoom(min_free);
    return {storage_.get() + tail_, capacity_ - tail_};
  }
  void Commit(size_t n) { tail_ += n; }

  void Append(const uint8_t* bytes, size_t n) {
    if (n == 0) return;  // `bytes` may be null
    std::memcpy(PrepareWrite(n).data(), bytes, n);
    tail_ += n;
  }
  void Append(std::span<const uint8_t> bytes) { Append(bytes.data(), bytes.size()); }
  void Append(std::string_view s) { Append(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

  // Reads once from a non-blocking fd into at least `min_free` bytes of room: returns the bytes
  // read, 0 at end of stream, -1 on error (errno set; EAGAIN: nothing to read). EINTR retried.
  ssize_t ReadFrom(int fd, size_t min_free);
  // Writes the readable bytes to an fd (once) and consumes what was written: returns the bytes
  // written or -1 (errno set). EINTR retried.
  ssize_t WriteTo(int fd);

  // Drops `n` bytes from the head.
  void Consume(size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void Clear() { head_ = tail_ = 0; }

  // Frees the storage when the buffer is empty and holds more than `keep_bytes`, so that one
  // large frame does not pin memory for the life of a connection.
  void ReleaseIfIdle(size_t keep_bytes) {
    if (empty() && capacity_ > keep_bytes) {
      storage_.reset();
      capacity_ = 0;
      head_ = tail_ = 0;
    }
  }

  void swap(ByteBuffer& other) noexcept {
    storage_.swap(other.storage_);
    std::swap(capacity_, other.capacity_);
    std::swap(head_, other.head_);
    std::swap(tail_, other.tail_);
  }

 private:
  void MakeRoom(size_t min_free);

  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace shoal
