#pragma once

// Seeds: the HOST:PORT list a node or proxy first contacts to find the cluster (--seeds). A host
// name that resolves to several addresses counts as several seeds (a Kubernetes headless Service
// resolves to every ready pod), so names are resolved again whenever the list is used.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/options.h"
#include "common/status/status.h"

namespace shoal {

// "a:7000, b.example:7000" -> the seeds (at least one; spaces around items ignored). Errors start
// with `flag`.
StatusOr<std::vector<HostPort>> ParseSeedList(const std::string& text, std::string_view flag);

// Every address of every seed, as "IP:PORT" ("[IPv6]:PORT"), without duplicates, in the order of
// the list. A seed that does not resolve is skipped and described in `errors` (when given).
// Blocking (getaddrinfo): never call it on an event loop.
// `resolve` (tests) replaces getaddrinfo: a host's addresses, without the port.
using HostResolver = std::function<StatusOr<std::vector<std::string>>(const std::string& host)>;
std::vector<std::string> ResolveSeeds(const std::vector<HostPort>& seeds,
                                      std::vector<std::string>* errors = nullptr,
                                      const HostResolver& resolve = nullptr);

// getaddrinfo's addresses of `host` (IPv6 ones in brackets).
StatusOr<std::vector<std::string>> ResolveHost(const std::string& host);

}  // namespace shoal
