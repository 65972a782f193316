#include "node/gossip/handoff_plan.h"

namespace shoal::node {

void PlanKeyMoves(const Ring& before, const Ring& after, std::string_view self_id, int n,
                  uint64_t key_hash, bool merkle, KeyMoves* out) {
  out->stream.clear();
  out->copy.clear();
  int old_owners[Ring::kMaxReplicas];
  int new_owners[Ring::kMaxReplicas];
  const int old_n = before.PreferenceList(key_hash, n, old_owners);
  const int new_n = after.PreferenceList(key_hash, n, new_owners);
  auto had = [&](std::string_view id) {
    for (int j = 0; j < old_n; ++j) {
      if (before.members()[old_owners[j]].id == id) return true;
    }
    return false;
  };
  if (!had(self_id)) return;
  // Under the new ring: whether this node still owns the key, and whether any previous owner
  // does (each such one streams the pair it shares with the new owners).
  bool keeps = false;
  bool kept = false;
  for (int i = 0; i < new_n; ++i) {
    const std::string& id = after.members()[new_owners[i]].id;
    keeps |= id == self_id;
    kept |= had(id);
  }
  for (int i = 0; i < new_n; ++i) {
    const std::string& id = after.members()[new_owners[i]].id;
    if (id == self_id || had(id)) continue;
    if (merkle && keeps) {
      out->stream.push_back(new_owners[i]);
    } else if (!merkle || !kept) {
      out->copy.push_back(new_owners[i]);
    }
  }
}

}  // namespace shoal::node
