#include "tools/shoalctl/cluster_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>

#include "common/admin/admin_routes.h"
#include "common/admin/admin_server.h"
#include "common/client/node_client.h"
#include "common/config/options.h"
#include "common/hash/key_hash.h"

namespace shoal::tools {

namespace {

using admin::JsonString;

// A member's readings (Info), or why they could not be had.
struct MemberStatus {
  bool up = false;
  std::string error;
  std::map<std::string, std::string> info;
};

MemberStatus QueryMember(const RingMember& member, const ClusterOptions& options) {
  MemberStatus st;
  auto address = ParseHostPort(member.address);
  if (!address.ok()) {
    st.error = address.status().message();
    return st;
  }
  auto client = client::NodeClient::Connect(*address, options.timeout_ms);
  if (!client.ok()) {
    st.error = client.status().message();
    return st;
  }
  const std::string sender = "shoalctl:" + std::to_string(getpid());
  auto hello = (*client)->Hello(options.cluster, sender, options.secret, options.timeout_ms);
  if (!hello.ok()) {
    st.error = hello.status().message();
    return st;
  }
  FrameBuilder& fb = (*client)->builder();
  auto& b = fb.Start();
  auto info = wire::CreateInfo(b);
  const uint64_t id = (*client)->NextRequestId();
  Status s = (*client)->Send(fb.Finish(id, wire::Message::Info, info.Union()), options.timeout_ms);
  if (!s.ok()) {
    st.error = s.message();
    return st;
  }
  auto env = (*client)->Await(id, options.timeout_ms);
  if (!env.ok()) {
    st.error = env.status().message();
    return st;
  }
  const auto* resp = (*env)->message_as_InfoResponse();
  if (resp == nullptr) {
    st.error = "unexpected reply to Info";
    return st;
  }
  if (resp->entries() != nullptr) {
    for (const auto* e : *resp->entries()) {
      if (e->name() != nullptr && e->value() != nullptr) {
        st.info[e->name()->str()] = e->value()->str();
      }
    }
  }
  st.up = true;
  return st;
}

std::string Get(const MemberStatus& st, const std::string& name, const char* absent = "-") {
  auto it = st.info.find(name);
  return it == st.info.end() ? absent : it->second;
}

// "12.3MiB" for a byte count given as text ("-" stays "-").
std::string Bytes(const std::string& text) {
  char* end = nullptr;
  const double n = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return text;
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = n;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f%s" : "%.1f%s", v, kUnits[unit]);
  return buf;
}

// "3725s" for a count of 1/`per_second` seconds given as text.
std::string Seconds(const std::string& text, double per_second) {
  char* end = nullptr;
  const double n = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return text;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0fs", n / per_second);
  return buf;
}

std::string Percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", share * 100);
  return buf;
}

}  // namespace

int RunRing(const ClusterOptions& options) {
  const Ring& ring = *options.ring;
  if (options.json) {
    std::printf("%s\n", admin::RingJson(ring, options.replicas).c_str());
    return 0;
  }
  const auto shares = admin::RingShares(ring, options.replicas);
  // A key has min(--replicas, members) replicas.
  const int held = std::min<int>(options.replicas, static_cast<int>(ring.members().size()));
  std::printf("%zu members, %d tokens each, %zu ranges, %d replicas per key\n",
              ring.members().size(), ring.tokens_per_node(), ring.Ranges(0).size(), held);
  std::printf("%-20s %-24s %10s %10s\n", "ID", "ADDRESS", "PRIMARY", "REPLICA");
  for (size_t m = 0; m < ring.members().size(); ++m) {
    std::printf("%-20s %-24s %10s %10s\n", ring.members()[m].id.c_str(),
                ring.members()[m].address.c_str(), Percent(shares[m].primary).c_str(),
                Percent(shares[m].replica).c_str());
  }
  return 0;
}

int RunLocate(const ClusterOptions& options, const std::string& key) {
  const Ring& ring = *options.ring;
  const uint64_t hash = KeyHash(key);
  const std::vector<int> owners = ring.OwnersOfKey(key, options.replicas);
  if (options.json) {
    std::string json = "{\"hash\":" + std::to_string(hash) + ",\"replicas\":[";
    for (size_t i = 0; i < owners.size(); ++i) {
      const RingMember& m = ring.members()[owners[i]];
      json += (i == 0 ? "" : ",");
      json += "{\"id\":" + JsonString(m.id) + ",\"address\":" + JsonString(m.address) + "}";
    }
    std::printf("%s]}\n", json.c_str());
    return 0;
  }
  std::printf("hash: %016llx\n", static_cast<unsigned long long>(hash));
  for (size_t i = 0; i < owners.size(); ++i) {
    const RingMember& m = ring.members()[owners[i]];
    std::printf("replica %zu: %s (%s)\n", i + 1, m.id.c_str(), m.address.c_str());
  }
  return 0;
}

int RunStatus(const ClusterOptions& options) {
  const auto& members = options.ring->members();
  std::vector<MemberStatus> all;
  for (const RingMember& m : members) all.push_back(QueryMember(m, options));
  bool all_up = true;
  for (const MemberStatus& st : all) all_up = all_up && st.up;
  // The readings shown, by their Info names (numbers).
  static constexpr const char* kNumbers[] = {
      "keys",          "memory_used_bytes",   "memory_limit_bytes",  "requests",
      "hints_pending", "hints_pending_bytes", "hints_oldest_age_ms", "uptime_seconds"};
  if (options.json) {
    std::string json = "{\"members\":[";
    for (size_t i = 0; i < members.size(); ++i) {
      const MemberStatus& st = all[i];
      json += (i == 0 ? "" : ",");
      json += "{\"id\":" + JsonString(members[i].id) +
              ",\"address\":" + JsonString(members[i].address) +
              ",\"state\":" + JsonString(st.up ? "up" : "down");
      if (!st.up) {
        json += ",\"error\":" + JsonString(st.error) + "}";
        continue;
      }
      json += std::string(",\"ready\":") + (Get(st, "ready") == "1" ? "true" : "false");
      json += ",\"sync_state\":" + JsonString(Get(st, "sync_state", ""));
      for (const char* name : kNumbers) {
        json += ",\"" + std::string(name) + "\":" + Get(st, name, "0");
      }
      json += "}";
    }
    std::printf("%s]}\n", json.c_str());
    return all_up ? 0 : 1;
  }
  std::printf("%-12s %-21s %-5s %-5s %-8s %9s %9s %9s %10s %7s %9s %8s %8s\n", "ID", "ADDRESS",
              "STATE", "READY", "SYNC", "KEYS", "MEMORY", "LIMIT", "REQUESTS", "HINTS", "HINT_MEM",
              "HINT_AGE", "UPTIME");
  for (size_t i = 0; i < members.size(); ++i) {
    const MemberStatus& st = all[i];
    if (!st.up) {
      std::printf("%-12s %-21s %-5s (%s)\n", members[i].id.c_str(), members[i].address.c_str(),
                  "down", st.error.c_str());
      continue;
    }
    std::printf("%-12s %-21s %-5s %-5s %-8s %9s %9s %9s %10s %7s %9s %8s %8s\n",
                members[i].id.c_str(), members[i].address.c_str(), "up",
                Get(st, "ready") == "1" ? "yes" : "no", Get(st, "sync_state").c_str(),
                Get(st, "keys").c_str(), Bytes(Get(st, "memory_used_bytes")).c_str(),
                Bytes(Get(st, "memory_limit_bytes")).c_str(), Get(st, "requests").c_str(),
                Get(st, "hints_pending").c_str(), Bytes(Get(st, "hints_pending_bytes")).c_str(),
                Seconds(Get(st, "hints_oldest_age_ms"), 1000).c_str(),
                Seconds(Get(st, "uptime_seconds"), 1).c_str());
  }
  return all_up ? 0 : 1;
}

}  // namespace shoal::tools
