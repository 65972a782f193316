#include "node/server/node_reload.h"

#include "common/config/reload.h"
#include "common/log/log.h"
#include "node/hints/hint_service.h"
#include "node/server/anti_entropy.h"
#include "node/server/node_config.h"

namespace shoal::node {

const std::set<std::string, std::less<>> kNodeReloadable = {"log-level", "anti-entropy-rate",
                                                            "anti-entropy-interval-ms",
                                                            "hint-replay-rate", "stream-rate"};

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
  // The tombstone grace and hint window need a restart: a new interval must still fit the running
  // grace (ValidateNodeConfig checked it against the file's, which may not be applied).
  const int64_t needed = node.config.hint_window_ms + 2 * fresh.anti_entropy_interval_ms;
  if (s.ok() && node.members != nullptr && node.config.tombstone_grace_ms <= needed) {
    s = Status::InvalidArgument(
        "--anti-entropy-interval-ms " + std::to_string(fresh.anti_entropy_interval_ms) +
        " needs a --tombstone-grace-ms longer than --hint-window plus two intervals (" +
        std::to_string(needed) + " ms); the running grace is " +
        std::to_string(node.config.tombstone_grace_ms) + " ms (it changes only at a restart)");
  }
  if (s.ok() && node.members != nullptr && node.config.element_tombstone_grace_ms <= needed) {
    s = Status::InvalidArgument(
        "--anti-entropy-interval-ms " + std::to_string(fresh.anti_entropy_interval_ms) +
        " needs an --element-tombstone-grace-ms longer than --hint-window plus two intervals (" +
        std::to_string(needed) + " ms); the running grace is " +
        std::to_string(node.config.element_tombstone_grace_ms) +
        " ms (it changes only at a restart)");
  }
  auto plan = Reload(running, options, s, kNodeReloadable);
  if (!plan.ok()) return plan.status();
  if (plan->Applies("log-level")) {
    if (Status ls = SetLogLevel(fresh.log_level); !ls.ok()) return ls;  // validated already
  }
  if (plan->Applies("anti-entropy-rate")) {
    node.anti_entropy_rate.store(fresh.anti_entropy_rate, std::memory_order_relaxed);
  }
  if (plan->Applies("anti-entropy-interval-ms")) {
    node.anti_entropy_interval_ms.store(fresh.anti_entropy_interval_ms, std::memory_order_relaxed);
    if (node.anti_entropy_driver != nullptr) node.anti_entropy_driver->IntervalChanged();
  }
  if (plan->Applies("hint-replay-rate") && node.hints != nullptr) {
    node.hints->SetReplayRate(fresh.hint_replay_rate);
  }
  if (plan->Applies("stream-rate")) {
    node.stream_rate.store(fresh.stream_rate_bytes, std::memory_order_relaxed);
  }
  return Status::Ok();
}

}  // namespace shoal::node
