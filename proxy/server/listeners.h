#pragma once

// Listening sockets for client connections.

#include <string>

#include "common/status/status.h"

namespace shoal::proxy {

// A non-blocking TCP listener on HOST:PORT with SO_REUSEADDR and SO_REUSEPORT, so that every
// worker can own one and the kernel spreads connections across them. Returns the fd.
StatusOr<int> ListenTcp(const std::string& host_port, int backlog = 1024);

// The port a listening socket is bound to.
int BoundPort(int fd);

// A non-blocking Unix stream listener at `path` (a stale socket file there is replaced).
StatusOr<int> ListenUnix(const std::string& path, int backlog = 1024);

}  // namespace shoal::proxy
