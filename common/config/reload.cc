#include "common/config/reload.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace shoal {

bool ReloadPlan::Applies(std::string_view name) const {
  return std::find(applied.begin(), applied.end(), name) != applied.end();
}

ReloadPlan PlanReload(const Options& running, const Options& fresh,
                      const std::set<std::string, std::less<>>& reloadable) {
  ReloadPlan plan;
  const auto now = running.Values(/*masked=*/false);
  std::map<std::string, std::string> next;
  for (auto& [name, value] : fresh.Values(/*masked=*/false)) next[name] = std::move(value);
  for (const auto& [name, value] : now) {
    auto it = next.find(name);
    if (it == next.end() || it->second == value) continue;
    (reloadable.contains(name) ? plan.applied : plan.needs_restart).push_back(name);
  }
  return plan;
}

StatusOr<ReloadPlan> Reload(Options& running, const Options& fresh, const Status& validated,
                            const std::set<std::string, std::less<>>& reloadable) {
  const std::string path =
      running.config_path().empty() ? "(no --config file: flags only)" : running.config_path();
  if (!validated.ok()) {
    spdlog::error("SIGHUP: {} is not valid, nothing changed: {}", path, validated.message());
    return validated;
  }
  ReloadPlan plan = PlanReload(running, fresh, reloadable);
  std::map<std::string, std::string> old_values, new_values;
  for (auto& [name, value] : running.Values()) old_values[name] = std::move(value);
  for (auto& [name, value] : fresh.Values()) new_values[name] = std::move(value);
  auto change = [&](const std::string& name) -> std::string {
    if (running.IsSecret(name)) return "secret, not shown";
    return old_values[name] + " -> " + new_values[name];
  };
  const auto raw = fresh.Values(/*masked=*/false);
  for (const std::string& name : plan.applied) {
    for (const auto& [n, value] : raw) {
      if (n != name) continue;
      if (Status s = running.Set(name, value, "reload"); !s.ok()) {
        // Validated already: cannot happen unless the declarations differ.
        spdlog::error("SIGHUP: {}: {}", name, s.message());
      }
    }
  }
  for (const std::string& name : plan.needs_restart) {
    spdlog::warn("SIGHUP: {} changed ({}) but takes effect only at a restart: left unchanged", name,
                 change(name));
  }
  std::string applied;
  for (const std::string& name : plan.applied) {
    applied += (applied.empty() ? "" : ", ") + name + " " + change(name);
  }
  spdlog::warn("SIGHUP: reloaded {}: {}{}", path, applied.empty() ? "nothing to apply" : applied,
               plan.needs_restart.empty()
                   ? ""
                   : "; " + std::to_string(plan.needs_restart.size()) + " key(s) need a restart");
  return plan;
}

}  // namespace shoal
