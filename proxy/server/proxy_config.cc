#include "proxy/server/proxy_config.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/auth/cluster_secret.h"
#include "common/clock/hlc.h"
#include "common/hash/key_hash.h"
#include "common/membership/phi_detector.h"
#include "common/membership/seeds.h"
#include "common/wire/frame.h"

namespace shoal::proxy {

void ProxyConfig::RegisterOptions(Options& o) {
  o.AddString("id", &id, "this proxy's id (its writes' tie-break); default hostname-pid");
  o.AddString("listen", &listen, "HOST:PORT for Redis clients (empty: no TCP)");
  o.AddString("unix", &unix_path, "Unix socket path for Redis clients (optional)");
  o.AddString("nodes", &nodes, "static members: ID=HOST:PORT,...");
  o.AddString("seeds", &seeds,
              "instead of --nodes: HOST:PORT,... of nodes to ask for the cluster's member table "
              "(a name resolving to several addresses is several seeds); the proxy follows it");
  o.AddInt("members-refresh-ms", &members_refresh_ms,
           "with --seeds: ask a node for the member table this often");
  o.AddInt("replicas", &replicas, "replicas per key (N)");
  o.AddString("read-consistency", &read_consistency, "one|quorum|all");
  o.AddString("write-consistency", &write_consistency, "one|quorum|all");
  o.AddInt("timeout-ms", &timeout_ms, "per-request node timeout in milliseconds");
  o.AddInt("threads", &threads, "worker threads, each with its own event loop");
  o.AddString("requirepass", &requirepass, "password clients must AUTH with (empty: none)");
  o.MarkSecret("requirepass");  // /config shows "<set>"
  o.AddString("log-level", &log_level,
              "trace|debug|info|warn|error|critical|off (changeable at run time: POST "
              "/loglevel?level=L on the admin endpoint)");
  o.AddString("log-format", &log_format, "text (for people) or json (one object per line)");
  o.AddString("admin", &admin,
              "HOST:PORT of the admin HTTP endpoint (/metrics, /healthz, /readyz, /config, "
              "/ring, /members; empty: none). The default is localhost only and skipped with a "
              "warning when in use");
  o.AddString("cluster", &cluster, "cluster name sent to nodes in Hello (nodes must match it)");
  o.AddString("cluster-secret-file", &cluster_secret_file,
              "file holding the cluster secret: nodes must prove it and the proxy proves it to "
              "them (empty: none)");
  o.AddSize("max-value-size", &max_value_size, "largest value a client may write");
  o.AddInt("max-pipeline", &max_pipeline,
           "unanswered commands per client before the proxy stops reading from it");
  o.AddSize("client-query-buffer-limit", &client_query_buffer_limit,
            "largest command a client may send (all its arguments together); a larger one is "
            "refused with a protocol error and the connection closed");
  o.AddSize("client-output-buffer-limit", &client_output_buffer_limit,
            "hard limit on reply bytes waiting for one client; a client past it is closed "
            "(0: no limit)");
  o.AddInt("max-keys-per-command", &max_keys_per_command,
           "most keys one command (MGET, MSET, DEL, ...) may name");
  o.AddSize("max-elements-per-key", &max_elements_per_key,
            "most fields of a hash (members of a set); a write adding more is refused (0: none)");
  o.AddSize("max-bytes-per-key", &max_bytes_per_key,
            "largest body of a hash or set, in bytes (fields, values, versions, removed fields' "
            "tombstones); a write growing one past it is refused (0: none)");
  o.AddInt("down-after-timeouts", &down_after_timeouts,
           "consecutive request timeouts after which a node is marked down");
  o.AddString("phi-threshold", &phi_threshold,
              "a node whose phi-accrual suspicion, judged from the answers this proxy reads from "
              "it, exceeds this is skipped until it answers again");
  o.AddInt("link-ping-ms", &link_ping_ms,
           "a node link silent this long is pinged; also sets how soon a silent node is "
           "suspected (about 4.6 times this; 0: no pings and no phi judgement)");
  o.AddInt("max-clock-offset-ms", &max_clock_offset_ms,
           "versions further ahead of the local clock are not merged into the proxy's clock");
  o.AddInt("tokens-per-node", &tokens_per_node, "virtual-node tokens per member");
  o.AddBool("hinted-handoff", &hinted_handoff,
            "a write that fails at an owner is sent as a hint to the next healthy node past the "
            "preference list, which replays it to the owner later");
  o.AddBool("sloppy-quorum", &sloppy_quorum,
            "default for connections: stored hints count toward the write consistency level "
            "(a sloppy quorum is not a quorum; SHOAL.CONSISTENCY ... STRICT|SLOPPY per "
            "connection)");
}

Status ProxyConfig::Finish() {
  members.clear();
  seed_list.clear();
  if (!seeds.empty()) {
    if (!nodes.empty()) {
      return Status::InvalidArgument(
          "--seeds and --nodes exclude each other: members come from the cluster or from the "
          "list");
    }
    auto parsed = ParseSeedList(seeds, "--seeds");
    if (!parsed.ok()) return parsed.status();
    seed_list = std::move(*parsed);
    if (members_refresh_ms < 10 || members_refresh_ms > 600'000) {
      return Status::InvalidArgument("--members-refresh-ms must be between 10 and 600000");
    }
  } else if (nodes.empty()) {
    return Status::InvalidArgument("--nodes or --seeds is required");
  } else {
    auto parsed = ParseMemberList(nodes, "--nodes");
    if (!parsed.ok()) return parsed.status();
    members = std::move(*parsed);
  }
  if (replicas < 1 || replicas > Ring::kMaxReplicas) {
    return Status::InvalidArgument("--replicas must be between 1 and " +
                                   std::to_string(Ring::kMaxReplicas));
  }
  auto r = ParseConsistency(read_consistency);
  if (!r) return Status::InvalidArgument("--read-consistency must be one, quorum or all");
  auto w = ParseConsistency(write_consistency);
  if (!w) return Status::InvalidArgument("--write-consistency must be one, quorum or all");
  read_level = *r;
  write_level = *w;
  if (timeout_ms < 1) return Status::InvalidArgument("--timeout-ms must be >= 1");
  if (threads < 1 || threads > 256) return Status::InvalidArgument("--threads must be 1..256");
  if (max_pipeline < 1) return Status::InvalidArgument("--max-pipeline must be >= 1");
  if (client_query_buffer_limit < 1024) {
    return Status::InvalidArgument("--client-query-buffer-limit must be at least 1kb");
  }
  if (max_keys_per_command < 1) {
    return Status::InvalidArgument("--max-keys-per-command must be >= 1");
  }
  if (down_after_timeouts < 1) {
    return Status::InvalidArgument("--down-after-timeouts must be >= 1");
  }
  if (tokens_per_node < 1) return Status::InvalidArgument("--tokens-per-node must be >= 1");
  auto phi = ParsePhiThreshold(phi_threshold);
  if (!phi.ok()) return phi.status();
  if (link_ping_ms < 0 || link_ping_ms > 60'000) {
    return Status::InvalidArgument("--link-ping-ms must be between 0 (off) and 60000, got " +
                                   std::to_string(link_ping_ms));
  }
  link_detector.threshold = link_ping_ms == 0 ? 0 : *phi;
  link_detector.ping_interval_ms = link_ping_ms;
  if (log_format != "text" && log_format != "json") {
    return Status::InvalidArgument("--log-format must be text or json");
  }
  if (spdlog::level::from_str(log_level) == spdlog::level::off && log_level != "off") {
    return Status::InvalidArgument("--log-level: unknown level '" + log_level + "'");
  }
  if (!admin.empty()) {
    auto hp = ParseHostPort(admin);
    if (!hp.ok()) return Status::InvalidArgument("--admin: " + hp.status().message());
  }
  if (listen.empty() && unix_path.empty()) {
    return Status::InvalidArgument("one of --listen or --unix is required");
  }
  if (!listen.empty()) {
    auto hp = ParseHostPort(listen);
    if (!hp.ok()) return Status::InvalidArgument("--listen: " + hp.status().message());
  }
  // A value travels in one node frame together with its key and the envelope.
  constexpr uint64_t kLargestValue = kDefaultMaxFrameBytes - kMaxKeyBytes - 4096;
  if (max_value_size < 1 || max_value_size > kLargestValue) {
    return Status::InvalidArgument("--max-value-size must be between 1 byte and " +
                                   std::to_string(kLargestValue) +
                                   " bytes (a node frame is at most 64mb)");
  }
  if (id.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    id = std::string(host) + "-" + std::to_string(getpid());
  }
  writer_id = NewWriterId();
  if (!cluster_secret_file.empty()) {
    auto secret = auth::LoadClusterSecret(cluster_secret_file);
    if (!secret.ok())
      return Status::InvalidArgument("--cluster-secret-file: " + secret.status().message());
    cluster_secret = std::move(*secret);
  }
  resp_limits.max_bulk_bytes = max_value_size;
  resp_limits.max_request_bytes = client_query_buffer_limit;
  return Status::Ok();
}

}  // namespace shoal::proxy
