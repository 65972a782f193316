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
#include "common/membership/member.h"
#include "common/membership/seeds.h"

namespace shoal::tools {

namespace {

using admin::JsonString;

// A member's readings (Info), or why they could not be had.
struct MemberStatus {
  bool up = false;
  std::string error;
  std::map<std::string, std::string> info;
};

// A connection to `address` past Hello (cluster name and secret checked both ways).
StatusOr<std::unique_ptr<client::NodeClient>> Open(const std::string& address,
                                                   const ClusterOptions& options) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  auto client = client::NodeClient::Connect(*hp, options.timeout_ms);
  if (!client.ok()) return client.status();
  const std::string sender = "shoalctl:" + std::to_string(getpid());
  auto hello = (*client)->Hello(options.cluster, sender, options.secret, options.timeout_ms);
  if (!hello.ok()) return hello.status();
  return std::move(*client);
}

MemberStatus QueryMember(const std::string& address, const ClusterOptions& options) {
  MemberStatus st;
  auto client = Open(address, options);
  if (!client.ok()) {
    st.error = client.status().message();
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

// One row of `status`: a member, its state as the seed sees it (with --seeds), its readings.
struct StatusRow {
  std::string id;
  std::string address;
  std::string member_state;  // empty with --nodes
  bool asked = true;         // false: REMOVED, not asked
  MemberStatus st;
};

}  // namespace

StatusOr<MembersListing> FetchMemberTable(const std::vector<HostPort>& seeds,
                                          const ClusterOptions& options, std::string* answered) {
  std::vector<std::string> errors;
  const std::vector<std::string> addresses = ResolveSeeds(seeds, &errors);
  Status last = Status::Unavailable("no seed resolves" +
                                    (errors.empty() ? std::string() : ": " + errors.front()));
  for (const std::string& address : addresses) {
    auto client = Open(address, options);
    if (!client.ok()) {
      last = Status::Unavailable(address + ": " + client.status().message());
      continue;
    }
    FrameBuilder& fb = (*client)->builder();
    auto& b = fb.Start();
    auto req = wire::CreateMembersRequest(b);
    const uint64_t id = (*client)->NextRequestId();
    Status s = (*client)->Send(fb.Finish(id, wire::Message::MembersRequest, req.Union()),
                               options.timeout_ms);
    if (!s.ok()) {
      last = Status::Unavailable(address + ": " + s.message());
      continue;
    }
    auto env = (*client)->Await(id, options.timeout_ms);
    if (!env.ok()) {
      last = Status::Unavailable(address + ": " + env.status().message());
      continue;
    }
    if ((*env)->message_type() == wire::Message::Error) {
      last =
          Status::Unavailable(address + ": " + client::DescribeError(*(*env)->message_as_Error()));
      continue;
    }
    const auto* resp = (*env)->message_as_MembersResponse();
    if (resp == nullptr) {
      last = Status::Unavailable(address + ": unexpected reply to MembersRequest");
      continue;
    }
    *answered = address;
    return DecodeMembersResponse(*resp);
  }
  return last;
}

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
  std::vector<StatusRow> rows;
  if (options.listing.has_value()) {
    for (const MemberView& v : options.listing->entries) {
      StatusRow row;
      row.id = v.record.id;
      row.address = v.record.address;
      row.member_state = MemberStateName(v.state);
      row.asked = v.state != MemberState::kRemoved;
      rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end(),
              [](const StatusRow& a, const StatusRow& b) { return a.id < b.id; });
  } else {
    for (const RingMember& m : options.ring->members()) {
      StatusRow row;
      row.id = m.id;
      row.address = m.address;
      rows.push_back(std::move(row));
    }
  }
  bool all_up = true;
  for (StatusRow& row : rows) {
    if (!row.asked) continue;
    row.st = QueryMember(row.address, options);
    all_up = all_up && row.st.up;
  }
  // The readings shown, by their Info names (numbers).
  static constexpr const char* kNumbers[] = {
      "keys",          "memory_used_bytes",   "memory_limit_bytes",  "requests",
      "hints_pending", "hints_pending_bytes", "hints_oldest_age_ms", "uptime_seconds"};
  if (options.json) {
    std::string json = "{";
    if (options.listing.has_value()) {
      json += "\"listed_by\":" + JsonString(options.listed_by) +
              ",\"listed_by_id\":" + JsonString(options.listing->node_id) + ",";
    }
    json += "\"members\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const StatusRow& row = rows[i];
      const MemberStatus& st = row.st;
      json += (i == 0 ? "" : ",");
      json += "{\"id\":" + JsonString(row.id) + ",\"address\":" + JsonString(row.address);
      if (!row.member_state.empty()) json += ",\"member_state\":" + JsonString(row.member_state);
      if (!row.asked) {
        json += ",\"state\":\"removed\"}";
        continue;
      }
      json += ",\"state\":" + JsonString(st.up ? "up" : "down");
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
  if (options.listing.has_value()) {
    std::printf("member table of %s (%s)\n", options.listing->node_id.c_str(),
                options.listed_by.c_str());
  }
  // MEMBER: the member's state in the table (--seeds); STATE: whether it answered.
  const bool with_member = options.listing.has_value();
  std::printf("%-12s %-21s ", "ID", "ADDRESS");
  if (with_member) std::printf("%-8s ", "MEMBER");
  std::printf("%-5s %-5s %-8s %9s %9s %9s %10s %7s %9s %8s %8s\n", "STATE", "READY", "SYNC", "KEYS",
              "MEMORY", "LIMIT", "REQUESTS", "HINTS", "HINT_MEM", "HINT_AGE", "UPTIME");
  for (const StatusRow& row : rows) {
    const MemberStatus& st = row.st;
    std::printf("%-12s %-21s ", row.id.c_str(), row.address.c_str());
    if (with_member) std::printf("%-8s ", row.member_state.c_str());
    if (!row.asked) {
      std::printf("%-5s (not asked: removed from the cluster)\n", "-");
      continue;
    }
    if (!st.up) {
      std::printf("%-5s (%s)\n", "down", st.error.c_str());
      continue;
    }
    std::printf("%-5s %-5s %-8s %9s %9s %9s %10s %7s %9s %8s %8s\n", "up",
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
