#pragma once

// The node's configuration reload (SIGHUP): re-parses the command line it started with (the
// --config file re-read, the flags on top), validates it as at start, and applies the keys that
// may change at run time (kNodeReloadable: the log level, the anti-entropy rate limit and
// interval, the hint replay rate, the key streams' rate). Other changed keys are logged as needing
// a restart; an invalid file changes nothing (common/config/reload.h). Main thread only.

#include <set>
#include <string>

#include "common/config/options.h"
#include "common/status/status.h"
#include "node/server/node_context.h"

namespace shoal::node {

extern const std::set<std::string, std::less<>> kNodeReloadable;

// `running` is the Options the node started with (bound to the main thread's NodeConfig, shown by
// GET /config); `argv` its command line. Returns the validation error or OK.
Status ReloadNodeConfig(int argc, const char* const* argv, Options& running, NodeContext& node);

}  // namespace shoal::node
