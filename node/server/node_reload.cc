#include "node/server/node_reload.h"

#include "common/config/reload.h"
#include "common/log/log.h"
#include "node/server/node_config.h"

namespace shoal::node {

const std::set<std::string, std::less<>> kNodeReloadable = {"log-level", "anti-entropy-rate"};

Status ReloadNodeConfig(int argc, const char* const* argv, Options& running, NodeContext& node) {
  NodeConfig fresh;
  Options options("shoal-node", "");
  RegisterNodeOptions(options, &fresh);
  Status s = options.Parse(argc, argv);
  if (s.ok() && !options.positional().empty()) {
    s = Status::InvalidArgument("unexpected argument '" + options.positional().front() + "'");
  }
  if (s.ok()) s = ValidateNodeConfig(&fresh);
  if (s.ok()) s = LoadNodeSecret(&fresh);
  auto plan = Reload(running, options, s, kNodeReloadable);
  if (!plan.ok()) return plan.status();
  if (plan->Applies("log-level")) {
    if (Status ls = SetLogLevel(fresh.log_level); !ls.ok()) return ls;  // validated already
  }
  if (plan->Applies("anti-entropy-rate")) {
    node.anti_entropy_rate.store(fresh.anti_entropy_rate, std::memory_order_relaxed);
  }
  return Status::Ok();
}

}  // namespace shoal::node
