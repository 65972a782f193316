#include "node/server/listen_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace shoal::node {

namespace {

constexpr int kBacklog = 1024;

Status Errno(const std::string& what) {
  return Status::IOError(what + ": " + std::strerror(errno));
}

void SetPort(sockaddr_storage* addr, uint16_t port) {
  if (addr->ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(addr)->sin6_port = htons(port);
  }
}

uint16_t GetPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
}

// Binds a plain socket (SO_REUSEADDR, so that connections in TIME_WAIT do not count, but no
// SO_REUSEPORT) to `addr`: this fails while anything else listens there, including another
// node's SO_REUSEPORT group, which our own sockets would otherwise silently join. Returns the
// bound port (the kernel's pick when `addr` has port 0).
StatusOr<uint16_t> ProbeAddress(int family, const sockaddr_storage& addr, socklen_t addr_len,
                                const HostPort& address) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    Status s = Errno("setsockopt SO_REUSEADDR");
    close(fd);
    return s;
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    const int error = errno;
    close(fd);
    if (error == EADDRINUSE) {
      return Status::IOError("address in use: " + address.ToString() +
                             " is already taken (another shoal-node or another program on port " +
                             std::to_string(address.port) + ")");
    }
    errno = error;
    return Errno("cannot listen on " + address.ToString());
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    Status s = Errno("getsockname");
    close(fd);
    return s;
  }
  close(fd);
  return GetPort(bound);
}

}  // namespace

StatusOr<std::vector<int>> OpenReusePortListeners(const HostPort& address, int count,
                                                  uint16_t* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(address.port);
  const char* host = address.host.empty() ? nullptr : address.host.c_str();
  if (int rc = getaddrinfo(host, port_text.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument("cannot resolve listen address '" + address.ToString() +
                                   "': " + gai_strerror(rc));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  const socklen_t addr_len = found->ai_addrlen;
  const int family = found->ai_family;
  freeaddrinfo(found);

  // With port 0 the probe's port is the one the group takes.
  auto port = ProbeAddress(family, addr, addr_len, address);
  if (!port.ok()) return port.status();
  *bound_port = *port;
  SetPort(&addr, *bound_port);

  std::vector<int> fds;
  auto fail = [&fds](Status s) {
    for (int fd : fds) close(fd);
    return s;
  };
  for (int i = 0; i < count; ++i) {
    const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(Errno("socket"));
    fds.push_back(fd);
    const int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return fail(Errno("setsockopt SO_REUSEPORT"));
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      return fail(Errno("cannot listen on " + address.ToString()));
    }
    // Listen now, so that connections queue from the moment Start() returns, before the
    // threads' loops run.
    if (listen(fd, kBacklog) != 0) return fail(Errno("listen on " + address.ToString()));
  }
  return fds;
}

}  // namespace shoal::node
