#include "node/server/byte_buffer.h"

#include <algorithm>

namespace shoal::node {

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

}  // namespace shoal::node
