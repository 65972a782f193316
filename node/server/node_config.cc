#include "node/server/node_config.h"

#include <spdlog/common.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <utility>

#include "common/auth/cluster_secret.h"
#include "common/membership/phi_detector.h"
#include "common/membership/seeds.h"

namespace shoal::node {

namespace {

constexpr int64_t kMaxThreads = 256;
constexpr uint64_t kMinMemoryPerShard = 1ull << 20;
constexpr uint64_t kMinFrameSize = 1ull << 10;
constexpr uint64_t kMaxFrameSize = 1ull << 30;  // the length prefix is 32 bits; keep well below
// Tombstones are purged after at most this long; a longer grace is almost surely a typo (and one
// near INT64_MAX would overflow a deadline).
constexpr int64_t kMaxTombstoneGraceMs = 30ll * 24 * 3600 * 1000;  // 30 days
constexpr int64_t kMaxWarmupMs = 24ll * 3600 * 1000;
constexpr int64_t kMaxHintWindowMs = 30ll * 24 * 3600 * 1000;  // 30 days

}  // namespace

StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  std::string s;
  for (char ch : text) {
    if (!std::isspace(static_cast<unsigned char>(ch))) {
      s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    }
  }
  if (s == "0") return int64_t{0};
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  const std::string_view unit = std::string_view(s).substr(digits);
  int64_t mult = 0;
  for (const auto& [name, ms] : kUnits) {
    if (unit == name) mult = ms;
  }
  if (digits == 0 || mult == 0) {
    return Status::InvalidArgument("bad duration '" + std::string(text) +
                                   "' (a whole number with a unit: ms, s, m, h, d; or 0)");
  }
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, value);
  if (ec != std::errc() || value > std::numeric_limits<int64_t>::max() / mult) {
    return Status::InvalidArgument("duration too large '" + std::string(text) + "'");
  }
  return value * mult;
}

void RegisterNodeOptions(Options& options, NodeConfig* c) {
  options.AddString("id", &c->id, "this node's id, unique in the cluster (required)");
  options.AddString("listen", &c->listen, "HOST:PORT to serve the node protocol on");
  options.AddString("data-dir", &c->data_dir, "directory for durable state (created if missing)");
  options.AddSize("max-memory", &c->max_memory,
                  "memory limit for stored data, e.g. 64mb, 2gb (split across shards)");
  options.AddInt("threads", &c->threads, "number of shards, one event-loop thread each");
  options.AddString("log-level", &c->log_level,
                    "trace, debug, info, warn, error, critical, off (changeable at run time: "
                    "POST /loglevel?level=L on the admin endpoint)");
  options.AddString("log-format", &c->log_format,
                    "text (for people) or json (one object per line)");
  options.AddString("admin", &c->admin,
                    "HOST:PORT of the admin HTTP endpoint (/metrics, /healthz, /readyz, /config, "
                    "/ring, /members; empty: none). The default is localhost only and skipped "
                    "with a warning when in use");
  options.AddString("cluster", &c->cluster, "cluster name; peers from another cluster are refused");
  options.AddSize("max-frame-size", &c->max_frame_size,
                  "largest accepted frame (and so value), e.g. 64mb");
  options.AddInt("max-clock-offset-ms", &c->max_clock_offset_ms,
                 "refuse versions further than this ahead of the local clock");
  options.AddInt("tombstone-grace-ms", &c->tombstone_grace_ms,
                 "keep delete tombstones this long before purging them; with --nodes it must "
                 "exceed --hint-window plus two --anti-entropy-interval-ms");
  options.AddInt("element-tombstone-grace-ms", &c->element_tombstone_grace_ms,
                 "purge hash field and set member tombstones this old (by their version's wall "
                 "time); with --nodes it must exceed --hint-window plus two "
                 "--anti-entropy-interval-ms");
  options.AddInt("warmup-ms", &c->warmup_ms,
                 "after a restart (the data dir shows the node served before), answer Get and "
                 "Touch with NotReady for this long; Puts are applied (0: no warm-up)");
  options.AddInt(
      "sync-timeout-ms", &c->sync_timeout_ms,
      "with --nodes or --seeds: at start, pull newer states from every peer before answering "
      "reads, retrying unreachable peers this long (0: no start-up sync)");
  options.AddString("cluster-secret-file", &c->cluster_secret_file,
                    "file holding the cluster secret; peers must prove it (Auth) before any "
                    "request (default: none, no authentication)");
  options.AddString("nodes", &c->nodes,
                    "the cluster's members, this node included: ID=HOST:PORT,... (the proxies' "
                    "--nodes list; default: none, a standalone node)");
  options.AddInt("replicas", &c->replicas, "replicas per key (N), as the proxies are configured");
  options.AddInt("tokens-per-node", &c->tokens_per_node,
                 "virtual-node tokens per member, as the proxies are configured");
  options.AddInt("anti-entropy-interval-ms", &c->anti_entropy_interval_ms,
                 "compare summaries with every peer and repair differences this often, in ms "
                 "(0: never; needs --nodes or --seeds)");
  options.AddSize("anti-entropy-rate", &c->anti_entropy_rate,
                  "most bytes (keys and values) anti-entropy pushes per second (0: unlimited)");
  options.AddSize("hint-max-bytes", &c->hint_max_bytes,
                  "bound of the hint spool (<data-dir>/hints), e.g. 1gb; HintPuts past it are "
                  "refused");
  options.AddString("hint-window", &c->hint_window,
                    "how long a hint is kept for a target that stays away: 3h, 30m, 90s, 2d "
                    "(0: hints disabled, HintPut refused)");
  options.AddInt("hint-replay-rate", &c->hint_replay_rate,
                 "hints replayed per second to their targets, all targets together");
  options.AddString("seeds", &c->seeds,
                    "find the cluster by gossip instead of --nodes: HOST:PORT,... of nodes to "
                    "contact first (a name resolving to several addresses is several seeds)");
  options.AddString("zone", &c->zone, "this node's zone (gossiped with --seeds)");
  options.AddString("advertise", &c->advertise,
                    "HOST:PORT peers and proxies reach this node at (with --seeds; default: "
                    "--listen, which must then not be a wildcard address)");
  options.AddInt("gossip-interval-ms", &c->gossip_interval_ms,
                 "with --seeds: one gossip exchange (and heartbeat) this often");
  options.AddString("phi-threshold", &c->phi_threshold,
                    "with --seeds: a member whose phi-accrual suspicion exceeds this is seen DOWN "
                    "(it stays in the ring)");
  options.AddString("dead-after", &c->dead_after,
                    "with --seeds: a member seen DOWN this long (e.g. 10m, 5s) is removed from the "
                    "ring and its keys copied to the owners replacing it (0: never)");
  options.AddString("join-wait", &c->join_wait,
                    "with --seeds: a new node stays JOINING this long (at least the proxies' "
                    "--members-refresh-ms) before it pulls the ranges it gains");
  options.AddSize("stream-rate", &c->stream_rate_bytes,
                  "with --seeds: bytes per second a node moves keys at when joining, on ring "
                  "changes and when decommissioned (e.g. 32mb; 0: no limit)");
}

Status ValidateNodeConfig(NodeConfig* c) {
  if (c->id.empty()) return Status::InvalidArgument("--id is required");
  auto hp = ParseHostPort(c->listen);
  if (!hp.ok()) return Status::InvalidArgument("--listen: " + hp.status().message());
  c->listen_address = *hp;
  if (c->data_dir.empty()) return Status::InvalidArgument("--data-dir must not be empty");
  if (!c->admin.empty()) {
    auto admin = ParseHostPort(c->admin);
    if (!admin.ok()) return Status::InvalidArgument("--admin: " + admin.status().message());
  }
  if (c->log_format != "text" && c->log_format != "json") {
    return Status::InvalidArgument("--log-format must be text or json");
  }
  if (c->threads < 1 || c->threads > kMaxThreads) {
    return Status::InvalidArgument("--threads must be between 1 and " +
                                   std::to_string(kMaxThreads) + ", got " +
                                   std::to_string(c->threads));
  }
  if (c->max_memory < kMinMemoryPerShard * static_cast<uint64_t>(c->threads)) {
    return Status::InvalidArgument("--max-memory must be at least 1mb per thread, got " +
                                   std::to_string(c->max_memory) + " bytes for " +
                                   std::to_string(c->threads) + " threads");
  }
  if (c->max_frame_size < kMinFrameSize || c->max_frame_size > kMaxFrameSize) {
    return Status::InvalidArgument("--max-frame-size must be between 1kb and 1gb, got " +
                                   std::to_string(c->max_frame_size) + " bytes");
  }
  if (c->max_clock_offset_ms <= 0) {
    return Status::InvalidArgument("--max-clock-offset-ms must be positive");
  }
  if (c->tombstone_grace_ms < 0 || c->tombstone_grace_ms > kMaxTombstoneGraceMs) {
    return Status::InvalidArgument("--tombstone-grace-ms must be between 0 and " +
                                   std::to_string(kMaxTombstoneGraceMs) + " (30 days), got " +
                                   std::to_string(c->tombstone_grace_ms));
  }
  if (c->element_tombstone_grace_ms < 0 || c->element_tombstone_grace_ms > kMaxTombstoneGraceMs) {
    return Status::InvalidArgument("--element-tombstone-grace-ms must be between 0 and " +
                                   std::to_string(kMaxTombstoneGraceMs) + " (30 days), got " +
                                   std::to_string(c->element_tombstone_grace_ms));
  }
  if (c->warmup_ms < 0 || c->warmup_ms > kMaxWarmupMs) {
    return Status::InvalidArgument("--warmup-ms must be between 0 and " +
                                   std::to_string(kMaxWarmupMs) + " (1 day), got " +
                                   std::to_string(c->warmup_ms));
  }
  if (c->sync_timeout_ms < 0 || c->sync_timeout_ms > kMaxWarmupMs) {
    return Status::InvalidArgument("--sync-timeout-ms must be between 0 and " +
                                   std::to_string(kMaxWarmupMs) + " (1 day), got " +
                                   std::to_string(c->sync_timeout_ms));
  }
  if (c->cluster.empty()) return Status::InvalidArgument("--cluster must not be empty");
  if (c->replicas < 1 || c->replicas > Ring::kMaxReplicas) {
    return Status::InvalidArgument("--replicas must be between 1 and " +
                                   std::to_string(Ring::kMaxReplicas) + ", got " +
                                   std::to_string(c->replicas));
  }
  if (c->anti_entropy_interval_ms < 0 || c->anti_entropy_interval_ms > kMaxWarmupMs) {
    return Status::InvalidArgument("--anti-entropy-interval-ms must be between 0 and " +
                                   std::to_string(kMaxWarmupMs) + " (1 day), got " +
                                   std::to_string(c->anti_entropy_interval_ms));
  }
  if (c->tokens_per_node < 1 || c->tokens_per_node > 65536) {
    return Status::InvalidArgument("--tokens-per-node must be between 1 and 65536, got " +
                                   std::to_string(c->tokens_per_node));
  }
  auto window = ParseDurationMs(c->hint_window);
  if (!window.ok()) return Status::InvalidArgument("--hint-window: " + window.status().message());
  if (*window > kMaxHintWindowMs) {
    return Status::InvalidArgument("--hint-window must be at most 30d, got '" + c->hint_window +
                                   "'");
  }
  c->hint_window_ms = *window;
  // A replica that missed a delete learns it from its hint (within the hint window) or from
  // anti-entropy (within an interval or two of coming back): the other replicas must still hold
  // the tombstone then, or the stale value would be pushed back to them as the newer state.
  const int64_t tombstone_needed = c->hint_window_ms + 2 * c->anti_entropy_interval_ms;
  if ((!c->nodes.empty() || !c->seeds.empty()) && c->tombstone_grace_ms <= tombstone_needed) {
    return Status::InvalidArgument(
        "--tombstone-grace-ms must be longer than --hint-window plus two "
        "--anti-entropy-interval-ms (" +
        std::to_string(tombstone_needed) + " ms), got " + std::to_string(c->tombstone_grace_ms) +
        ": a delete missed by a replica would be undone when it comes back");
  }
  // An element tombstone purged raises its body's floor: "every element write at or below it was
  // seen here". A replica that missed an element write gets it within the same window; purged
  // sooner, the floor would drop that write when it arrives (elements.h).
  if ((!c->nodes.empty() || !c->seeds.empty()) &&
      c->element_tombstone_grace_ms <= tombstone_needed) {
    return Status::InvalidArgument(
        "--element-tombstone-grace-ms must be longer than --hint-window plus two "
        "--anti-entropy-interval-ms (" +
        std::to_string(tombstone_needed) + " ms), got " +
        std::to_string(c->element_tombstone_grace_ms) +
        ": a field write a replica missed would be dropped by the purged floor when it arrives");
  }
  if (c->hint_replay_rate < 1 || c->hint_replay_rate > 10'000'000) {
    return Status::InvalidArgument("--hint-replay-rate must be between 1 and 10000000, got " +
                                   std::to_string(c->hint_replay_rate));
  }
  c->ring = nullptr;
  c->self = -1;
  c->seed_list.clear();
  if (!c->seeds.empty()) {
    if (!c->nodes.empty()) {
      return Status::InvalidArgument(
          "--seeds and --nodes exclude each other: members come from gossip or from the list");
    }
    auto seeds = ParseSeedList(c->seeds, "--seeds");
    if (!seeds.ok()) return seeds.status();
    c->seed_list = std::move(*seeds);
    if (c->gossip_interval_ms < 10 || c->gossip_interval_ms > 60'000) {
      return Status::InvalidArgument("--gossip-interval-ms must be between 10 and 60000, got " +
                                     std::to_string(c->gossip_interval_ms));
    }
    auto phi = ParsePhiThreshold(c->phi_threshold);
    if (!phi.ok()) return phi.status();
    c->phi_threshold_value = *phi;
    auto dead_after = ParseDurationMs(c->dead_after);
    if (!dead_after.ok()) {
      return Status::InvalidArgument("--dead-after: " + dead_after.status().message());
    }
    c->dead_after_ms = *dead_after;
    auto join_wait = ParseDurationMs(c->join_wait);
    if (!join_wait.ok()) {
      return Status::InvalidArgument("--join-wait: " + join_wait.status().message());
    }
    c->join_wait_ms = *join_wait;

    const std::string advertise = c->advertise.empty() ? c->listen : c->advertise;
    auto adv = ParseHostPort(advertise);
    if (!adv.ok()) return Status::InvalidArgument("--advertise: " + adv.status().message());
    if (adv->host.empty() || adv->host == "0.0.0.0" || adv->host == "::" || adv->port == 0) {
      return Status::InvalidArgument(
          "with --seeds, --advertise HOST:PORT is needed when --listen is a wildcard address or "
          "port 0 (peers must be able to reach '" +
          advertise + "')");
    }
    c->advertise_address = advertise;
  }
  if (!c->nodes.empty()) {
    auto members = ParseMemberList(c->nodes, "--nodes");
    if (!members.ok()) return members.status();
    auto ring = Ring::Build(std::move(*members), static_cast<int>(c->tokens_per_node));
    if (!ring.ok()) return Status::InvalidArgument("--nodes: " + ring.status().message());
    c->ring = std::move(*ring);
    c->self = c->ring->IndexOf(c->id);
    if (c->self < 0) {
      return Status::InvalidArgument("--nodes must list this node's own id '" + c->id + "'");
    }
  }
  const auto level = spdlog::level::from_str(c->log_level);
  if (level == spdlog::level::off && c->log_level != "off") {
    return Status::InvalidArgument("--log-level: unknown level '" + c->log_level + "'");
  }
  return Status::Ok();
}

Status LoadNodeSecret(NodeConfig* c) {
  c->cluster_secret.clear();
  if (c->cluster_secret_file.empty()) return Status::Ok();
  auto secret = auth::LoadClusterSecret(c->cluster_secret_file);
  if (!secret.ok()) {
    return Status::InvalidArgument("--cluster-secret-file: " + secret.status().message());
  }
  c->cluster_secret = std::move(*secret);
  return Status::Ok();
}

}  // namespace shoal::node
