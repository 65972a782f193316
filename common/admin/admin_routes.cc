#include "common/admin/admin_routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <vector>

#include "common/admin/cpu_profile.h"
#include "common/log/log.h"
#include "common/membership/member.h"

namespace shoal::admin {

namespace {

std::string Share(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", fraction);
  return buf;
}

// A phi as a JSON number: capped at 1e6 (JSON has no infinity).
std::string PhiJson(double phi) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", std::min(phi, 1e6));
  return text;
}

}  // namespace

void AddCommonRoutes(AdminServer& server, const metrics::Registry& registry,
                     const Options& options) {
  server.Get("/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); });
  server.Get("/metrics", [&registry](const HttpRequest&) {
    HttpResponse r = HttpResponse::Text(200, registry.Text());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
  server.Get("/config", [&options](const HttpRequest&) {
    std::string json = "{";
    bool first = true;
    for (const auto& [name, value] : options.Values()) {
      json += (first ? "" : ",") + JsonString(name) + ":" + JsonString(value);
      first = false;
    }
    return HttpResponse::Json(200, json + "}");
  });
  // A CPU profile in pprof's format (cpu_profile.h), taken for ?seconds=N (default 30): blocks
  // one of the endpoint's two threads meanwhile.
  server.Get("/debug/pprof/profile", [](const HttpRequest& req) {
    const std::string text = req.Param("seconds");
    int seconds = 30;
    if (!text.empty()) {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      if (ec != std::errc() || ptr != text.data() + text.size()) seconds = 0;
    }
    auto profile = CaptureCpuProfile(seconds);
    if (!profile.ok()) {
      const bool busy = profile.status().code() == Status::Code::kUnavailable;
      return HttpResponse::Text(busy ? 503 : 400, profile.status().message() + "\n");
    }
    HttpResponse r;
    r.content_type = "application/octet-stream";
    r.headers["Content-Disposition"] = "attachment; filename=\"profile\"";
    r.body = std::move(*profile);
    return r;
  });
  server.Get("/loglevel",
             [](const HttpRequest&) { return HttpResponse::Text(200, LogLevelName() + "\n"); });
  server.Post("/loglevel", [](const HttpRequest& req) {
    std::string level = req.Param("level");
    if (level.empty()) level = req.body;
    while (!level.empty() && (level.back() == '\n' || level.back() == '\r')) level.pop_back();
    const std::string before = LogLevelName();
    Status s = SetLogLevel(level);
    if (!s.ok()) return HttpResponse::Text(400, s.message() + "\n");
    spdlog::warn("log level changed from {} to {} (admin endpoint)", before, LogLevelName());
    return HttpResponse::Text(200, LogLevelName() + "\n");
  });
}

std::vector<MemberShare> RingShares(const Ring& ring, int replicas) {
  const size_t count = ring.members().size();
  std::vector<long double> primary(count, 0), held(count, 0);
  for (const Ring::Range& r : ring.Ranges(replicas)) {
    const long double size = static_cast<long double>(r.end - r.start);
    if (r.count > 0) primary[r.replicas[0]] += size;
    for (int i = 0; i < r.count; ++i) held[r.replicas[i]] += size;
  }
  const long double space = 18446744073709551616.0L;  // 2^64
  std::vector<MemberShare> out(count);
  for (size_t m = 0; m < count; ++m) {
    out[m].primary = static_cast<double>(primary[m] / space);
    out[m].replica = static_cast<double>(held[m] / space);
  }
  return out;
}

std::string RingJson(const Ring& ring, int replicas) {
  const auto& members = ring.members();
  const std::vector<MemberShare> shares = RingShares(ring, replicas);
  std::string json = "{\"replicas\":" + std::to_string(replicas) +
                     ",\"tokens_per_node\":" + std::to_string(ring.tokens_per_node()) +
                     ",\"ranges\":" + std::to_string(ring.Ranges(0).size()) + ",\"members\":[";
  for (size_t m = 0; m < members.size(); ++m) {
    json += (m == 0 ? "" : ",");
    json += "{\"id\":" + JsonString(members[m].id) +
            ",\"address\":" + JsonString(members[m].address) +
            ",\"primary_share\":" + Share(shares[m].primary) +
            ",\"replica_share\":" + Share(shares[m].replica) + "}";
  }
  return json + "]}";
}

std::string MembersJson(const Ring& ring, int self, const std::function<std::string(int)>& state,
                        const std::function<double(int)>& link_phi) {
  std::string json = "{\"source\":\"static\",\"members\":[";
  const auto& members = ring.members();
  for (size_t m = 0; m < members.size(); ++m) {
    json += (m == 0 ? "" : ",");
    json += "{\"id\":" + JsonString(members[m].id) +
            ",\"address\":" + JsonString(members[m].address) +
            ",\"state\":" + JsonString(state(static_cast<int>(m)));
    if (self >= 0)
      json += std::string(",\"self\":") + (static_cast<int>(m) == self ? "true" : "false");
    if (link_phi) json += ",\"link_phi\":" + PhiJson(link_phi(static_cast<int>(m)));
    json += "}";
  }
  return json + "]}";
}

std::string MembersListingJson(const MembersListing& listing,
                               const std::function<MemberLink(const std::string&)>& link) {
  std::vector<const MemberView*> sorted;
  for (const MemberView& v : listing.entries) sorted.push_back(&v);
  std::sort(sorted.begin(), sorted.end(),
            [](const MemberView* a, const MemberView* b) { return a->record.id < b->record.id; });
  std::string json = std::string("{\"source\":") + (listing.gossip ? "\"gossip\"" : "\"static\"") +
                     ",\"listed_by\":" + JsonString(listing.node_id) + ",\"members\":[";
  for (size_t i = 0; i < sorted.size(); ++i) {
    const MemberView& v = *sorted[i];
    json += (i == 0 ? "" : ",");
    json += "{\"id\":" + JsonString(v.record.id) + ",\"address\":" + JsonString(v.record.address) +
            ",\"zone\":" + JsonString(v.record.zone) +
            ",\"state\":" + JsonString(MemberStateName(v.state)) + ",\"phi\":" + PhiJson(v.phi) +
            ",\"incarnation\":" + std::to_string(v.record.incarnation) +
            ",\"heartbeat\":" + std::to_string(v.record.heartbeat) +
            ",\"last_heard_ms\":" + std::to_string(v.last_heard_ms);
    if (link) {
      const MemberLink l = link(v.record.id);
      json += ",\"link\":" + JsonString(l.state);
      if (l.phi >= 0) json += ",\"link_phi\":" + PhiJson(l.phi);
    }
    json += "}";
  }
  return json + "]}";
}

StatusOr<bool> StartAdmin(AdminServer& server, const std::string& address,
                          const std::string& default_address) {
  if (address.empty()) return false;
  Status s = server.Start(address);
  if (s.ok()) {
    spdlog::info(
        "admin endpoint on http://{}:{}/ (metrics, healthz, readyz, config, ring, members)",
        ParseHostPort(address)->host, server.port());
    return true;
  }
  if (address == default_address) {
    spdlog::warn("no admin endpoint: the default address {} is in use (set --admin HOST:PORT)",
                 address);
    return false;
  }
  return s;
}

}  // namespace shoal::admin
