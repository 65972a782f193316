// shoalctl: the operator's command-line tool. Talks to one node directly.
//
// Exit codes: 0 success; 1 the command failed (message on stderr: connection, timeout, an Error
// reply from the node); 2 usage error.

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth/cluster_secret.h"
#include "common/client/node_client.h"
#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/config/options.h"
#include "common/hash/key_hash.h"
#include "common/membership/gossip_wire.h"
#include "common/membership/seeds.h"
#include "common/ring/ring.h"
#include "tools/shoalctl/cluster_commands.h"
#include "tools/shoalctl/command_help.h"
#include "tools/shoalctl/commands.h"

namespace {

constexpr int kExitUsage = 2;
// Latest expiry --ttl-ms may reach: 9999-12-31, far below int64 overflow.
constexpr int64_t kMaxExpireAtMs = 253'402'300'799'999;

constexpr const char* kUsage =
    R"(usage: shoalctl [--node HOST:PORT] [--cluster NAME] [--cluster-secret-file FILE]
                [--timeout-ms N] COMMAND ...

Talks to Shoal nodes directly: one (--node) for the key and node commands, each member for
the cluster commands. `shoalctl COMMAND --help` describes one command.

Commands:
  get KEY                    print the value, or (nil) when the key is absent, deleted or expired
  set KEY VALUE [--ttl-ms N] store VALUE (expiring N ms from now); prints OK
  del KEY                    delete (writes a tombstone); prints "(integer) 1" when a live value
                             was removed, "(integer) 0" otherwise, as redis-cli does for DEL
  info [--json]              print the node's readings, one "name: value" per line
  repair [--json]            run one anti-entropy round on the node now, in both directions:
                             with each peer it pushes the states it holds newer and pulls
                             those the peer holds newer; prints peers compared, keys and bytes
                             repaired once the round has ended (waits up to --timeout-ms,
                             default 10 minutes for repair); exits 1 if no round ran or the
                             round failed with a peer (named on stderr)
  members [--json]           print the node's member table: each member's id, address, zone,
                             state as that node sees it (JOINING, NORMAL, LEAVING, DOWN,
                             REMOVED), phi, incarnation, heartbeat and ms since its last news
  remove ID [--json]         (--seeds clusters) mark member ID REMOVED at once, as --dead-after
                             does: it leaves the ring and the remaining owners copy its keys to
                             the owners replacing it (a live member refutes it and stays)
  decommission [--json]      (--seeds clusters) the node turns LEAVING, hands its keys to their
                             next owners, turns REMOVED and exits

Cluster commands (they take the member list, or the seeds, instead of --node; --json for
scripts):
  ring --nodes LIST [--replicas N] [--tokens-per-node T] [--json]
                             token ownership: per member, the share of the hash space it is
                             first owner of and the share it holds a replica of
  locate KEY --nodes LIST [--replicas N] [--tokens-per-node T] [--json]
                             the key's hash and its replicas, in preference order
  status --nodes LIST [--json]
                             per member: up or down, ready, sync state, keys, memory used and
                             limit, requests served, hints pending (count, bytes, oldest age),
                             uptime (one Info each); exits 1 when any member cannot be reached
  (LIST is the proxies' --nodes value: ID=HOST:PORT,...; --replicas defaults to 3,
  --tokens-per-node to 512: give the values the cluster runs with. In place of --nodes LIST,
  --seeds HOST:PORT,... (a gossiping cluster, the proxies' --seeds value): the member table is
  read from the first seed that answers; status then lists every member with its state in
  that table, ring and locate use the members neither JOINING nor REMOVED, as the proxies do)

Load generation (tests, quick measurements):
  fill --count N [--value-size SIZE] [--key-prefix P] [--pipeline W] [--ttl-ms N] [--op put|get]
                             send N puts (or gets) of keys P0..P(N-1), W in flight (default 128),
                             values of SIZE bytes (default 100, accepts 1kb); prints a summary
                             line with the rate; exits 1 if any request failed

Options:
  --node HOST:PORT   the node (default 127.0.0.1:7000)
  --cluster NAME     cluster name sent in Hello (default shoal)
  --cluster-secret-file FILE
                     the cluster secret: prove it to the node (Auth) and require the node to
                     prove it too; needed for nodes started with --cluster-secret-file
  --timeout-ms N     connect and per-request timeout (default 5000; repair's answer: 600000)
  --help             show this help; after a command, that command's help
  --json             (info, repair, members, remove, decommission, ring, locate, status) one
                     JSON object on stdout
  --                 end of options: following arguments are taken literally (values that begin
                     with "--")

Writes are versioned with shoalctl's own hybrid logical clock, started above the highest
version the node has seen, and a random 64-bit writer id.
Exit codes: 0 success, 1 failure (message on stderr), 2 usage error.
)";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "shoalctl: %s\n(see shoalctl --help)\n", message.c_str());
  return kExitUsage;
}

bool ParseInt(std::string_view text, int64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// The flags every command may take, and those of specific commands.
const std::map<std::string_view, std::vector<std::string_view>>& CommandFlags() {
  static const auto* flags = new std::map<std::string_view, std::vector<std::string_view>>{
      {"get", {}},
      {"set", {"ttl-ms"}},
      {"del", {}},
      {"info", {"json"}},
      {"repair", {"json"}},
      {"members", {"json"}},
      {"remove", {"json"}},
      {"decommission", {"json"}},
      {"fill", {"ttl-ms", "count", "value-size", "key-prefix", "pipeline", "op"}},
      {"ring", {"nodes", "seeds", "replicas", "tokens-per-node", "json"}},
      {"locate", {"nodes", "seeds", "replicas", "tokens-per-node", "json"}},
      {"status", {"nodes", "seeds", "replicas", "tokens-per-node", "json"}},
  };
  return *flags;
}

const std::map<std::string_view, size_t>& CommandArity() {
  static const auto* arity = new std::map<std::string_view, size_t>{
      {"get", 1},    {"set", 2},          {"del", 1},  {"info", 0}, {"repair", 0}, {"members", 0},
      {"remove", 1}, {"decommission", 0}, {"fill", 0}, {"ring", 0}, {"locate", 1}, {"status", 0}};
  return *arity;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags{
      {"node", "127.0.0.1:7000"}, {"cluster", "shoal"}, {"timeout-ms", "5000"}};
  std::map<std::string, bool> given;
  std::vector<std::string> args;
  static const std::vector<std::string_view> kKnown = {
      "node",  "cluster",    "cluster-secret-file", "timeout-ms", "ttl-ms",
      "count", "value-size", "key-prefix",          "pipeline",   "op",
      "nodes", "replicas",   "tokens-per-node",     "json",       "seeds"};
  bool literal = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!literal && (arg == "--help" || arg == "-h")) {
      // Help where it stands as a flag; in one of the command's positional slots it is data
      // (`set KEY -h` stores "-h").
      if (!args.empty()) {
        auto arity = CommandArity().find(args.front());
        if (arity != CommandArity().end() && args.size() - 1 < arity->second) {
          args.emplace_back(arg);
          continue;
        }
      }
      // After a command: that command's help (`shoalctl status --help`).
      const std::string help =
          args.empty() ? std::string() : shoal::tools::CommandHelp(args.front());
      std::fputs(help.empty() ? kUsage : help.c_str(), stdout);
      return 0;
    }
    if (!literal && arg == "--") {
      literal = true;
      continue;
    }
    if (literal || arg.size() < 3 || arg.substr(0, 2) != "--") {
      args.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
      has_value = true;
    }
    if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end()) {
      return UsageError("unknown option --" + std::string(name));
    }
    if (!has_value && name == "json") {
      value = "true";  // a switch
    } else if (!has_value) {
      if (i + 1 >= argc) return UsageError("--" + std::string(name) + " needs a value");
      value = argv[++i];
    }
    flags[std::string(name)] = value;
    given[std::string(name)] = true;
  }
  if (args.empty()) return UsageError("no command given");
  const std::string command = args.front();
  args.erase(args.begin());
  auto allowed = CommandFlags().find(command);
  if (allowed == CommandFlags().end()) return UsageError("unknown command '" + command + "'");
  for (const auto& [name, unused] : given) {
    if (name == "node" || name == "cluster" || name == "cluster-secret-file" ||
        name == "timeout-ms") {
      continue;
    }
    const auto& ok = allowed->second;
    if (std::find(ok.begin(), ok.end(), name) == ok.end()) {
      return UsageError("--" + name + " does not apply to '" + command + "'");
    }
  }
  if (args.size() != CommandArity().at(command)) {
    return UsageError("'" + command + "' takes " + std::to_string(CommandArity().at(command)) +
                      " argument(s), got " + std::to_string(args.size()));
  }

  if (given["json"] && flags["json"] != "true") return UsageError("--json takes no value");
  const bool json = given["json"];

  auto address = shoal::ParseHostPort(flags["node"]);
  if (!address.ok()) return UsageError("--node: " + address.status().message());
  int64_t timeout_ms = 0;
  if (!ParseInt(flags["timeout-ms"], &timeout_ms) || timeout_ms <= 0 ||
      timeout_ms > std::numeric_limits<int>::max()) {
    return UsageError("--timeout-ms expects an integer from 1 to " +
                      std::to_string(std::numeric_limits<int>::max()));
  }
  int64_t ttl_ms = 0;
  if (given["ttl-ms"]) {
    // The expiry is now + ttl in unix ms; it must not overflow (nor pass the year 10000).
    const int64_t max_ttl_ms = kMaxExpireAtMs - shoal::SystemClock::Get().NowMs();
    if (!ParseInt(flags["ttl-ms"], &ttl_ms) || ttl_ms <= 0 || ttl_ms > max_ttl_ms) {
      return UsageError("--ttl-ms expects an integer from 1 to " + std::to_string(max_ttl_ms));
    }
  }
  shoal::tools::FillOptions fill;
  if (command == "fill") {
    int64_t n = 0;
    if (!given["count"] || !ParseInt(flags["count"], &n) || n < 0) {
      return UsageError("fill needs --count N (N >= 0)");
    }
    fill.count = static_cast<uint64_t>(n);
    if (given["value-size"]) {
      auto size = shoal::ParseSize(flags["value-size"]);
      if (!size.ok()) return UsageError("--value-size: " + size.status().message());
      fill.value_size = *size;
    }
    if (given["pipeline"]) {
      if (!ParseInt(flags["pipeline"], &n) || n <= 0) {
        return UsageError("--pipeline expects a positive integer");
      }
      fill.pipeline = static_cast<uint64_t>(n);
    }
    if (given["key-prefix"]) fill.key_prefix = flags["key-prefix"];
    if (given["op"]) {
      if (flags["op"] != "put" && flags["op"] != "get") return UsageError("--op is put or get");
      fill.gets = flags["op"] == "get";
    }
    fill.ttl_ms = ttl_ms;
  }

  std::string secret;
  if (given["cluster-secret-file"]) {
    auto loaded = shoal::auth::LoadClusterSecret(flags["cluster-secret-file"]);
    if (!loaded.ok()) return UsageError("--cluster-secret-file: " + loaded.status().message());
    secret = std::move(*loaded);
  }

  if (command == "ring" || command == "locate" || command == "status") {
    if (given["nodes"] == given["seeds"]) {
      return UsageError(command + " needs --nodes ID=HOST:PORT,... or --seeds HOST:PORT,...");
    }
    int64_t replicas = 3, tokens = shoal::Ring::kDefaultTokensPerNode;
    if (given["replicas"] && (!ParseInt(flags["replicas"], &replicas) || replicas < 1 ||
                              replicas > shoal::Ring::kMaxReplicas)) {
      return UsageError("--replicas expects 1 to " + std::to_string(shoal::Ring::kMaxReplicas));
    }
    if (given["tokens-per-node"] &&
        (!ParseInt(flags["tokens-per-node"], &tokens) || tokens < 1 || tokens > 1 << 16)) {
      return UsageError("--tokens-per-node expects 1 to 65536");
    }
    shoal::tools::ClusterOptions cluster;
    cluster.replicas = static_cast<int>(replicas);
    cluster.json = json;
    cluster.cluster = flags["cluster"];
    cluster.secret = secret;
    cluster.timeout_ms = static_cast<int>(timeout_ms);
    std::vector<shoal::RingMember> members;
    if (given["seeds"]) {
      auto seeds = shoal::ParseSeedList(flags["seeds"], "--seeds");
      if (!seeds.ok()) return UsageError(seeds.status().message());
      auto listing = shoal::tools::FetchMemberTable(*seeds, cluster, &cluster.listed_by);
      if (!listing.ok()) {
        std::fprintf(stderr, "shoalctl: cannot read the member table: %s\n",
                     listing.status().message().c_str());
        return 1;
      }
      members = shoal::RingMembersOf(*listing);
      cluster.listing = std::move(*listing);
      // status lists the table itself; ring and locate need ring members.
      if (command == "status") return shoal::tools::RunStatus(cluster);
      if (members.empty()) {
        std::fprintf(stderr, "shoalctl: the member table of %s has no ring member yet\n",
                     cluster.listed_by.c_str());
        return 1;
      }
    } else {
      auto parsed = shoal::ParseMemberList(flags["nodes"], "--nodes");
      if (!parsed.ok()) return UsageError(parsed.status().message());
      members = std::move(*parsed);
    }
    auto ring = shoal::Ring::Build(std::move(members), static_cast<int>(tokens));
    if (!ring.ok()) return UsageError(ring.status().message());
    cluster.ring = *ring;
    if (command == "ring") return shoal::tools::RunRing(cluster);
    if (command == "locate") return shoal::tools::RunLocate(cluster, args[0]);
    return shoal::tools::RunStatus(cluster);
  }

  auto client = shoal::client::NodeClient::Connect(*address, static_cast<int>(timeout_ms));
  if (!client.ok()) {
    std::fprintf(stderr, "shoalctl: %s\n", client.status().message().c_str());
    return 1;
  }
  const std::string sender = "shoalctl:" + std::to_string(getpid());
  auto hello = (*client)->Hello(flags["cluster"], sender, secret, static_cast<int>(timeout_ms));
  if (!hello.ok()) {
    std::fprintf(stderr, "shoalctl: %s\n", hello.status().message().c_str());
    return 1;
  }
  // Our versions must be newer than anything the node holds: start the clock above its max.
  shoal::HybridLogicalClock hlc(shoal::SystemClock::Get(), int64_t{1} << 40);
  hlc.Observe(hello->max_hlc);
  const uint64_t writer_id = shoal::NewWriterId();
  shoal::tools::CommandContext ctx{**client, hlc, writer_id, static_cast<int>(timeout_ms)};

  if (command == "get") return shoal::tools::RunGet(ctx, args[0]);
  if (command == "set") return shoal::tools::RunSet(ctx, args[0], args[1], ttl_ms);
  if (command == "del") return shoal::tools::RunDel(ctx, args[0]);
  if (command == "info") return shoal::tools::RunInfo(ctx, json);
  if (command == "members") return shoal::tools::RunMembers(ctx, json);
  if (command == "remove") return shoal::tools::RunMemberCommand(ctx, "remove", args[0], json);
  if (command == "decommission") {
    return shoal::tools::RunMemberCommand(ctx, "decommission", "", json);
  }
  if (command == "repair") {
    // A repair waits for a whole anti-entropy round: a longer default for its answer.
    ctx.timeout_ms = given["timeout-ms"] ? static_cast<int>(timeout_ms) : 600'000;
    return shoal::tools::RunRepair(ctx, json);
  }
  return shoal::tools::RunFill(ctx, fill);
}
