#include "tools/shoalctl/command_help.h"

#include <map>

namespace shoal::tools {

namespace {

constexpr std::string_view kCommonNode =
    "\nCommon options: --node HOST:PORT (default 127.0.0.1:7000), --cluster NAME,\n"
    "--cluster-secret-file FILE, --timeout-ms N. Exit codes: 0 success, 1 failure (message on\n"
    "stderr), 2 usage error.\n";

const std::map<std::string_view, std::string_view>& Table() {
  static const auto* table = new std::map<std::string_view, std::string_view>{
      {"get",
       "usage: shoalctl [--node HOST:PORT] get KEY\n\n"
       "Prints the node's value of KEY, or (nil) when the key is absent, deleted or expired.\n"
       "Reads one node only (no quorum): what that replica holds.\n"},
      {"set",
       "usage: shoalctl [--node HOST:PORT] set KEY VALUE [--ttl-ms N]\n\n"
       "Stores VALUE under KEY on the node (expiring N ms from now with --ttl-ms), versioned\n"
       "with shoalctl's own clock started above the node's highest version; prints OK.\n"
       "Writes one node only: anti-entropy or read repair spreads it to the other replicas.\n"},
      {"del",
       "usage: shoalctl [--node HOST:PORT] del KEY\n\n"
       "Deletes KEY on the node (writes a tombstone); prints \"(integer) 1\" when a live value\n"
       "was removed, \"(integer) 0\" otherwise, as redis-cli does for DEL.\n"},
      {"info",
       "usage: shoalctl [--node HOST:PORT] info [--json]\n\n"
       "Prints the node's readings (identity, readiness, start-up sync, keys, memory, hints,\n"
       "anti-entropy, network counters), one \"name: value\" per line; with --json one object\n"
       "(numbers as numbers). The same registry as the node's /metrics.\n"},
      {"repair",
       "usage: shoalctl [--node HOST:PORT] repair [--json]\n\n"
       "Runs one anti-entropy round on the node now, in both directions: with each peer it\n"
       "pushes the states it holds newer and pulls those the peer holds newer. Prints peers\n"
       "compared, keys and bytes repaired once the round has ended (waits up to --timeout-ms,\n"
       "default 10 minutes for repair); exits 1 if no round ran or the round failed with a peer\n"
       "(named on stderr).\n"},
      {"members",
       "usage: shoalctl [--node HOST:PORT] members [--json]\n\n"
       "Prints the node's member table: each member's id, address, zone, state as that node\n"
       "sees it (JOINING, NORMAL, LEAVING, DOWN, REMOVED), phi, incarnation, heartbeat and ms\n"
       "since its last news. With --json one object, as the node's GET /members with --seeds:\n"
       "{\"source\": \"gossip\" or \"static\", \"listed_by\", \"members\": [{\"id\", \"address\",\n"
       "\"zone\", \"state\", \"phi\", \"incarnation\", \"heartbeat\", \"last_heard_ms\"}]}.\n"},
      {"remove",
       "usage: shoalctl [--node HOST:PORT] remove ID [--json]\n\n"
       "(Clusters started with --seeds.) Marks member ID REMOVED at once, as --dead-after does:\n"
       "it leaves the ring (gossiped to every node and proxy) and the remaining owners copy its\n"
       "keys to the owners replacing it. A live member refutes it and stays NORMAL. Fails for\n"
       "an unknown id or the node asked. Prints the node's answer (--json: {\"message\": ...}).\n"},
      {"decommission",
       "usage: shoalctl [--node HOST:PORT] decommission [--json]\n\n"
       "(Clusters started with --seeds.) The node asked turns LEAVING, hands its keys to their\n"
       "next owners, turns REMOVED and stops (exit 0). Returns once the node has accepted;\n"
       "prints its answer (--json: {\"message\": ...}).\n"},
      {"fill",
       "usage: shoalctl [--node HOST:PORT] fill --count N [--value-size SIZE] [--key-prefix P]\n"
       "                [--pipeline W] [--ttl-ms N] [--op put|get]\n\n"
       "Load generation: sends N puts (or gets) of keys P0..P(N-1), W in flight (default 128),\n"
       "values of SIZE bytes (default 100, accepts 1kb); prints a summary line with the rate;\n"
       "exits 1 if any request failed.\n"},
      {"ring",
       "usage: shoalctl ring --nodes ID=HOST:PORT,... [--replicas N] [--tokens-per-node T]\n"
       "                [--json]\n"
       "       shoalctl ring --seeds HOST:PORT,... [...]\n\n"
       "Token ownership, computed from the member list as every node and proxy computes it:\n"
       "per member, the share of the hash space it is first owner of and the share it holds a\n"
       "replica of. Give the --replicas (default 3) and --tokens-per-node (default 512) the\n"
       "cluster runs with. With --nodes it contacts no node; with --seeds (a gossiping\n"
       "cluster) it reads the member table of the first seed that answers and uses the\n"
       "members neither JOINING nor REMOVED, as the proxies do.\n"},
      {"locate",
       "usage: shoalctl locate KEY --nodes ID=HOST:PORT,... [--replicas N]\n"
       "                [--tokens-per-node T] [--json]\n"
       "       shoalctl locate KEY --seeds HOST:PORT,... [...]\n\n"
       "The key's hash and its replicas in preference order (the first is the coordinator's\n"
       "first choice), as the proxies place it. With --nodes it contacts no node; with\n"
       "--seeds the ring is built from the member table of the first seed that answers.\n"},
      {"status",
       "usage: shoalctl status --nodes ID=HOST:PORT,... [--json]\n"
       "       shoalctl status --seeds HOST:PORT,... [--json]\n\n"
       "Asks every member for its readings (one Info each) and prints, per member: up or down\n"
       "(and why), ready, start-up sync state, keys, memory used and limit, request frames\n"
       "served (load), hints pending (count, bytes, oldest age) and uptime. Exits 1 when any\n"
       "member cannot be reached (the others are still printed). --cluster,\n"
       "--cluster-secret-file and --timeout-ms (default 5000, per member) apply to each member.\n"
       "With --seeds (a gossiping cluster) the members are those of the member table of the\n"
       "first seed that answers, each with its state there (MEMBER: JOINING, NORMAL, LEAVING,\n"
       "DOWN, REMOVED); a REMOVED member is listed but not asked and does not fail the command.\n"},
  };
  return *table;
}

}  // namespace

std::string CommandHelp(std::string_view command) {
  auto it = Table().find(command);
  if (it == Table().end()) return {};
  std::string help(it->second);
  if (command != "ring" && command != "locate" && command != "status") help += kCommonNode;
  return help;
}

}  // namespace shoal::tools
