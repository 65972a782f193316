#include "proxy/server/proxy_reload.h"

#include "common/config/reload.h"
#include "common/log/log.h"

namespace shoal::proxy {

const std::set<std::string, std::less<>> kProxyReloadable = {
    "log-level",         "timeout-ms",           "read-consistency",
    "write-consistency", "sloppy-quorum",        "hinted-handoff",
    "max-pipeline",      "max-keys-per-command", "client-output-buffer-limit"};

Status ReloadProxyConfig(int argc, const char* const* argv, Options& running, SharedState& shared) {
  ProxyConfig fresh;
  Options options("shoal-proxy", "");
  fresh.RegisterOptions(options);
  Status s = options.Parse(argc, argv);
  if (s.ok()) s = fresh.Finish();
  auto plan = Reload(running, options, s, kProxyReloadable);
  if (!plan.ok()) return plan.status();
  if (plan->Applies("log-level")) {
    if (Status ls = SetLogLevel(fresh.log_level); !ls.ok()) return ls;  // validated by Finish
  }
  shared.settings.Apply(fresh);
  return Status::Ok();
}

}  // namespace shoal::proxy
