#include "proxy/net/io_buffer.h"

#include <errno.h>
#include <unistd.h>

namespace shoal::proxy {

ssize_t IoBuffer::ReadFrom(int fd, size_t chunk) {
  Reserve(chunk);
  ssize_t n;
  do {
    n = ::read(fd, WritePtr(), Writable());
  } while (n < 0 && errno == EINTR);
  if (n > 0) Commit(static_cast<size_t>(n));
  return n;
}

ssize_t IoBuffer::WriteTo(int fd) {
  if (empty()) return 0;
  ssize_t n;
  do {
    n = ::write(fd, data(), size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) Consume(static_cast<size_t>(n));
  return n;
}

}  // namespace shoal::proxy
