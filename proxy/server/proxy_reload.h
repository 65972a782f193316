#pragma once

// The proxy's configuration reload (SIGHUP): re-parses the command line it started with (the
// --config file re-read, the flags on top), validates it as at start, and applies the keys that
// may change at run time (kProxyReloadable: the log level, and RuntimeSettings' timeout, default
// consistency levels, quorum mode, hinted handoff and client limits: max-pipeline,
// max-keys-per-command, client-output-buffer-limit). Other changed keys are logged as needing a
// restart; an invalid file changes nothing (common/config/reload.h). Main thread only.

#include <set>
#include <string>

#include "common/config/options.h"
#include "common/status/status.h"
#include "proxy/server/shared_state.h"

namespace shoal::proxy {

extern const std::set<std::string, std::less<>> kProxyReloadable;

// `running` is the Options the proxy started with (bound to the main thread's ProxyConfig, shown
// by GET /config); `argv` its command line. Returns the validation error or OK.
Status ReloadProxyConfig(int argc, const char* const* argv, Options& running, SharedState& shared);

}  // namespace shoal::proxy
