#pragma once

// IoBuffer: a contiguous, growable byte buffer with a read position, for socket input and output.
//
//   0            read_pos            write_pos          capacity
//   +---------------+--------------------+------------------+
//   |  consumed     |  readable bytes    |  writable space  |
//   +---------------+--------------------+------------------+
//
// Consumed bytes are reclaimed by Compact() (a memmove of the readable part to the front), which
// Reserve() does before growing. Not thread-safe: owned by one connection on one thread.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace shoal::proxy {

class IoBuffer {
 public:
  IoBuffer() = default;
  IoBuffer(const IoBuffer&) = delete;
  IoBuffer& operator=(const IoBuffer&) = delete;

  const char* data() const { return data_.get() + read_pos_; }
  size_t size() const { return write_pos_ - read_pos_; }
  bool empty() const { return size() == 0; }
  size_t capacity() const { return capacity_; }

  void Consume(size_t n) {
    read_pos_ += n;
    if (read_pos_ == write_pos_) read_pos_ = write_pos_ = 0;
  }
  void Clear() { read_pos_ = write_pos_ = 0; }

  // Makes room for at least `n` more bytes after the readable ones.
  void Reserve(size_t n) {
    if (capacity_ - write_pos_ >= n) return;
    if (read_pos_ > 0 && capacity_ - size() >= n && read_pos_ >= size()) {
      Compact();
      return;
    }
    size_t cap = capacity_ == 0 ? 16384 : capacity_;
    while (cap - size() < n) cap *= 2;
    std::unique_ptr<char[]> grown(new char[cap]);
    if (size() > 0) std::memcpy(grown.get(), data(), size());
    write_pos_ = size();
    read_pos_ = 0;
    data_ = std::move(grown);
    capacity_ = cap;
  }

  // Writable space after Reserve(); call Commit(n) after writing n bytes there.
  char* WritePtr() { return data_.get() + write_pos_; }
  size_t Writable() const { return capacity_ - write_pos_; }
  void Commit(size_t n) { write_pos_ += n; }

  void Append(const void* bytes, size_t n) {
    Reserve(n);
    std::memcpy(WritePtr(), bytes, n);
    Commit(n);
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }

  // Moves the readable bytes to the front.
  void Compact() {
    if (read_pos_ == 0) return;
    const size_t n = size();
    if (n > 0) std::memmove(data_.get(), data(), n);
    read_pos_ = 0;
    write_pos_ = n;
  }

  // Releases memory when a burst has passed (keeps small buffers).
  void ShrinkIfIdle(size_t keep = 65536) {
    if (empty() && capacity_ > keep) {
      data_.reset();
      capacity_ = read_pos_ = write_pos_ = 0;
    }
  }

  // Reads from a non-blocking fd into the buffer: returns bytes read, 0 on EOF, -1 on error
  // (errno set; EAGAIN means nothing to read).
  ssize_t ReadFrom(int fd, size_t chunk = 65536);
  // Writes readable bytes to fd; returns bytes written or -1 (errno set).
  ssize_t WriteTo(int fd);

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t read_pos_ = 0;
  size_t write_pos_ = 0;
};

}  // namespace shoal::proxy
