#pragma once

// Configuration reload (SIGHUP): what changed between the configuration a process runs with and
// the one its --config file and flags give now, and which of the changes it applies.
//
// A binary re-parses its original argv into a fresh Options/config pair (the file re-read, the
// flags on top, so a flag still overrides the file) and validates it, then calls Reload():
//   - an invalid configuration changes nothing (logged as an error);
//   - a changed key named in `reloadable` is copied into `running` (so GET /config shows it) and
//     listed in ReloadPlan::applied, for the caller to apply to the running process;
//   - any other changed key is left alone, listed in ReloadPlan::needs_restart and logged.
// Secret values (Options::MarkSecret) are compared but never logged.
//
// Thread: the caller's (the main thread); `running` may be read meanwhile by the admin thread
// (Options::Values() and Set() lock).

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/options.h"
#include "common/status/status.h"

namespace shoal {

struct ReloadPlan {
  std::vector<std::string> applied;        // option names, in declaration order
  std::vector<std::string> needs_restart;  // option names, in declaration order
  bool Applies(std::string_view name) const;
};

// Compares the two (same declarations) without changing anything.
ReloadPlan PlanReload(const Options& running, const Options& fresh,
                      const std::set<std::string, std::less<>>& reloadable);

// The whole reload decision: `validated` is the fresh configuration's parse and validation
// result. Returns the error (nothing changed) or the plan, after copying the applied keys' values
// into `running` and logging the outcome (`program` names the process in the log lines).
StatusOr<ReloadPlan> Reload(Options& running, const Options& fresh, const Status& validated,
                            const std::set<std::string, std::less<>>& reloadable);

}  // namespace shoal
