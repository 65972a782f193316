#include "node/server/frame_peek.h"

#include <cstring>

namespace shoal::node {

namespace {

template <typename T>
bool ReadAt(const uint8_t* buf, size_t size, size_t pos, T* out) {
  if (pos > size || size - pos < sizeof(T)) return false;
  std::memcpy(out, buf + pos, sizeof(T));  // little-endian hosts only, as the rest of the node
  return true;
}

}  // namespace

std::optional<uint64_t> PeekRequestId(const uint8_t* data, size_t size) {
  constexpr size_t kPrefix = 4;
  if (size < kPrefix) return std::nullopt;
  const uint8_t* buf = data + kPrefix;
  const size_t n = size - kPrefix;
  uint32_t root = 0;
  if (!ReadAt(buf, n, 0, &root)) return std::nullopt;
  int32_t to_vtable = 0;
  if (!ReadAt(buf, n, root, &to_vtable)) return std::nullopt;
  const int64_t vtable = static_cast<int64_t>(root) - to_vtable;
  if (vtable < 0) return std::nullopt;
  uint16_t vtable_size = 0;
  if (!ReadAt(buf, n, static_cast<size_t>(vtable), &vtable_size) || vtable_size < 4) {
    return std::nullopt;
  }
  if (vtable_size < 6) return uint64_t{0};  // no field 0: the default
  uint16_t field = 0;
  if (!ReadAt(buf, n, static_cast<size_t>(vtable) + 4, &field)) return std::nullopt;
  if (field == 0) return uint64_t{0};
  uint64_t id = 0;
  if (!ReadAt(buf, n, static_cast<size_t>(root) + field, &id)) return std::nullopt;
  return id;
}

}  // namespace shoal::node
