#include "common/membership/gossip_round.h"

#include <algorithm>

namespace shoal {

void MergeCounts::Add(MergeOutcome outcome) {
  switch (outcome) {
    case MergeOutcome::kAdded:
      ++added;
      break;
    case MergeOutcome::kUpdated:
      ++updated;
      break;
    case MergeOutcome::kRefuted:
      ++refuted;
      break;
    case MergeOutcome::kInvalid:
      ++invalid;
      break;
    case MergeOutcome::kUnchanged:
      break;
  }
}

GossipSynMessage MakeSyn(const MemberTable& table) { return {table.Digests()}; }

GossipAckMessage HandleSyn(const MemberTable& table, const GossipSynMessage& syn) {
  GossipAckMessage ack;
  // Both lists are sorted by id (Digests() is; a peer's syn should be, but is not trusted to be).
  std::vector<const GossipDigest*> theirs;
  theirs.reserve(syn.digests.size());
  for (const auto& d : syn.digests) theirs.push_back(&d);
  std::sort(theirs.begin(), theirs.end(),
            [](const GossipDigest* a, const GossipDigest* b) { return a->id < b->id; });
  const std::vector<const MemberRecord*> mine = table.RecordPointers();
  size_t i = 0, j = 0;
  while (i < mine.size() || j < theirs.size()) {
    if (j == theirs.size() || (i < mine.size() && mine[i]->id < theirs[j]->id)) {
      ack.members.push_back(*mine[i++]);  // they do not know it
    } else if (i == mine.size() || theirs[j]->id < mine[i]->id) {
      if (!theirs[j]->id.empty()) ack.wanted.push_back(theirs[j]->id);  // we do not know it
      ++j;
    } else {
      if (mine[i]->version() > theirs[j]->version) {
        ack.members.push_back(*mine[i]);
      } else if (theirs[j]->version > mine[i]->version()) {
        ack.wanted.push_back(mine[i]->id);
      }
      ++i;
      ++j;
      // Skip duplicates of this id in a malformed syn.
      while (j < theirs.size() && theirs[j]->id == theirs[j - 1]->id) ++j;
    }
  }
  return ack;
}

GossipAck2Message HandleAck(MemberTable& table, const GossipAckMessage& ack, MergeCounts* counts) {
  for (const auto& r : ack.members) {
    const MergeOutcome outcome = table.Merge(r);
    if (counts != nullptr) counts->Add(outcome);
  }
  GossipAck2Message ack2;
  for (const auto& id : ack.wanted) {
    const MemberRecord* r = table.Find(id);
    if (r != nullptr) ack2.members.push_back(*r);
  }
  return ack2;
}

void HandleAck2(MemberTable& table, const GossipAck2Message& ack2, MergeCounts* counts) {
  for (const auto& r : ack2.members) {
    const MergeOutcome outcome = table.Merge(r);
    if (counts != nullptr) counts->Add(outcome);
  }
}

std::vector<std::string> ChooseGossipTargets(const MemberTable& table,
                                             const std::vector<std::string>& seeds,
                                             std::mt19937_64& rng) {
  const std::string& self_address = table.self().address;
  std::vector<std::string> alive_addr, down_addr;
  for (const auto& [record, seen] : table.SeenStates()) {
    if (record->id == table.self_id() || record->address == self_address) continue;
    if (seen == MemberState::kRemoved) continue;
    (seen == MemberState::kDown ? down_addr : alive_addr).push_back(record->address);
  }
  std::vector<std::string> other_seeds;
  for (const auto& s : seeds) {
    if (s != self_address) other_seeds.push_back(s);
  }
  std::vector<std::string> out;
  auto add = [&out](const std::string& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  // No std:: distributions: their output differs between standard libraries, and the simulation
  // must replay alike everywhere.
  auto pick = [&rng](const std::vector<std::string>& from) -> const std::string& {
    return from[rng() % from.size()];
  };
  auto coin = [](std::mt19937_64& r) { return static_cast<double>(r() >> 11) * 0x1.0p-53; };
  bool alive_is_seed = false;
  if (!alive_addr.empty()) {
    const std::string& a = pick(alive_addr);
    add(a);
    alive_is_seed = std::find(other_seeds.begin(), other_seeds.end(), a) != other_seeds.end();
  }
  if (!down_addr.empty()) {
    const double p = static_cast<double>(down_addr.size()) / (alive_addr.size() + 1.0);
    if (coin(rng) < p) add(pick(down_addr));
  }
  if (!other_seeds.empty()) {
    if (alive_addr.empty()) {
      add(pick(other_seeds));
    } else if (!alive_is_seed || alive_addr.size() < other_seeds.size()) {
      // Also when the member chosen is a seed but fewer members are alive than there are seeds
      // (Cassandra's rule): with every node a seed, two pairs that found each other first would
      // otherwise gossip only within their pair for ever.
      const double p = static_cast<double>(other_seeds.size()) /
                       static_cast<double>(alive_addr.size() + down_addr.size());
      if (coin(rng) < p) add(pick(other_seeds));
    }
  }
  return out;
}

}  // namespace shoal
