#pragma once

// Listening sockets shared by the shard threads through SO_REUSEPORT: each thread gets its own
// socket bound to the same address, and the kernel spreads incoming connections over them.

#include <cstdint>
#include <vector>

#include "common/config/options.h"
#include "common/status/status.h"

namespace shoal::node {

// Opens `count` listening sockets on `address` (port 0 picks a free port shared by all).
// On success the caller owns the fds and `bound_port` holds the port. Fails with "address in
// use" when anything already listens on the address (another node's SO_REUSEPORT group
// included): the sockets join only a group they create.
StatusOr<std::vector<int>> OpenReusePortListeners(const HostPort& address, int count,
                                                  uint16_t* bound_port);

}  // namespace shoal::node
