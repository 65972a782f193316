#include "common/membership/seeds.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/text/split.h"

namespace shoal {

StatusOr<std::vector<HostPort>> ParseSeedList(const std::string& text, std::string_view flag) {
  std::vector<HostPort> seeds;
  for (const std::string& item : SplitList(text)) {
    auto hp = ParseHostPort(item);
    if (!hp.ok()) return Status::InvalidArgument(std::string(flag) + ": " + hp.status().message());
    if (hp->port == 0) {
      return Status::InvalidArgument(std::string(flag) + ": seed '" + item + "' has port 0");
    }
    seeds.push_back(*hp);
  }
  if (seeds.empty()) {
    return Status::InvalidArgument(std::string(flag) + ": at least one HOST:PORT is required");
  }
  return seeds;
}

StatusOr<std::vector<std::string>> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0) return Status::Unavailable(gai_strerror(rc));
  std::vector<std::string> out;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text,
                sizeof(text));
      out.emplace_back(text);
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text,
                sizeof(text));
      out.push_back("[" + std::string(text) + "]");
    }
  }
  freeaddrinfo(result);
  return out;
}

std::vector<std::string> ResolveSeeds(const std::vector<HostPort>& seeds,
                                      std::vector<std::string>* errors,
                                      const HostResolver& resolve) {
  std::vector<std::string> out;
  for (const HostPort& seed : seeds) {
    auto hosts = resolve ? resolve(seed.host) : ResolveHost(seed.host);
    if (!hosts.ok()) {
      if (errors != nullptr) {
        errors->push_back("seed '" + seed.ToString() + "': " + hosts.status().message());
      }
      continue;
    }
    for (const std::string& host : *hosts) {
      std::string address = host + ":" + std::to_string(seed.port);
      if (std::find(out.begin(), out.end(), address) == out.end())
        out.push_back(std::move(address));
    }
  }
  return out;
}

}  // namespace shoal
