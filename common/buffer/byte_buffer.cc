#include "common/buffer/byte_buffer.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>

namespace shoal {

void ByteBuffer::MakeRoom(size_t min_free) {
  const size_t used = size();
  if (capacity_ - used >= min_free && head_ > 0) {
    std::memmove(storage_.get(), storage_.get() + head_, used);
    head_ = 0;
    tail_ = used;
    return;
  }
  const size_t capacity = std::max({capacity_ * 2, used + min_free, size_t{256}});
  std::unique_ptr<uint8_t[]> grown(new uint8_t[capacity]);
  if (used > 0) std::memcpy(grown.get(), storage_.get() + head_, used);
  storage_ = std::move(grown);
  capacity_ = capacity;
  head_ = 0;
  tail_ = used;
}

ssize_t ByteBuffer::ReadFrom(int fd, size_t min_free) {
  const std::span<uint8_t> room = PrepareWrite(min_free);
  ssize_t n;
  do {
    n = ::read(fd, room.data(), room.size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) Commit(static_cast<size_t>(n));
  return n;
}

ssize_t ByteBuffer::WriteTo(int fd) {
  if (empty()) return 0;
  ssize_t n;
  do {
    n = ::write(fd, data(), size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) Consume(static_cast<size_t>(n));
  return n;
}

}  // namespace shoal
