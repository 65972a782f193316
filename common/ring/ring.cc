#include "common/ring/ring.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "common/config/options.h"
#include "common/hash/key_hash.h"
#include "common/text/split.h"

namespace shoal {

StatusOr<std::vector<RingMember>> ParseMemberList(const std::string& text, std::string_view flag) {
  std::vector<RingMember> members;
  std::set<std::string> ids;
  for (const std::string& item : SplitList(text)) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument(std::string(flag) + ": expected ID=HOST:PORT[@ZONE], got '" +
                                     item + "'");
    }
    RingMember m{item.substr(0, eq), item.substr(eq + 1), ""};
    if (const size_t at = m.address.find('@'); at != std::string::npos) {
      m.zone = m.address.substr(at + 1);
      m.address.resize(at);
      if (m.zone.empty()) {
        return Status::InvalidArgument(std::string(flag) + ": empty zone after '@' in '" + item +
                                       "'");
      }
    }
    auto hp = ParseHostPort(m.address);
    if (!hp.ok()) return Status::InvalidArgument(std::string(flag) + ": " + hp.status().message());
    if (!ids.insert(m.id).second) {
      return Status::InvalidArgument(std::string(flag) + ": duplicate node id '" + m.id + "'");
    }
    members.push_back(std::move(m));
  }
  if (members.empty())
    return Status::InvalidArgument(std::string(flag) + ": at least one node is required");
  return members;
}

StatusOr<RingPtr> Ring::Build(std::vector<RingMember> members, int tokens_per_node) {
  if (members.empty()) return Status::InvalidArgument("ring needs at least one member");
  if (tokens_per_node < 1) return Status::InvalidArgument("tokens_per_node must be >= 1");
  std::unordered_set<std::string> ids;
  for (const auto& m : members) {
    if (m.id.empty()) return Status::InvalidArgument("ring member with an empty id");
    if (!ids.insert(m.id).second) {
      return Status::InvalidArgument("duplicate ring member id '" + m.id + "'");
    }
  }

  std::shared_ptr<Ring> ring(new Ring());
  ring->members_ = std::move(members);
  ring->tokens_per_node_ = tokens_per_node;
  const int count = static_cast<int>(ring->members_.size());
  ring->tokens_.reserve(static_cast<size_t>(count) * tokens_per_node);
  for (int m = 0; m < count; ++m) {
    for (int i = 0; i < tokens_per_node; ++i) {
      ring->tokens_.push_back({Hash64(ring->members_[m].id, static_cast<uint64_t>(i)), m});
    }
  }
  // Ties (astronomically rare) are broken by member id so the order stays a function of the set.
  std::sort(ring->tokens_.begin(), ring->tokens_.end(), [&](const Token& a, const Token& b) {
    if (a.position != b.position) return a.position < b.position;
    return ring->members_[a.member].id < ring->members_[b.member].id;
  });

  // Zones as small integers (members without one share zone "").
  std::vector<int> zone_of(count);
  int zones = 0;
  {
    std::vector<std::string> names;
    for (int m = 0; m < count; ++m) {
      const std::string& z = ring->members_[m].zone;
      auto it = std::find(names.begin(), names.end(), z);
      zone_of[m] = static_cast<int>(it - names.begin());
      if (it == names.end()) names.push_back(z);
    }
    zones = static_cast<int>(names.size());
  }
  const int per = std::min(count, kMaxReplicas);
  ring->successors_per_token_ = per;
  const size_t total = ring->tokens_.size();
  ring->successors_.resize(total * per);
  // For each token: walk clockwise; the first member met of each zone goes to `first` (in walk
  // order), every other distinct member to `passed`; the list is first + passed, cut at `per`.
  // The walk stops once that prefix can no longer change: `per` zones found, or every zone found
  // and enough members passed over.
  std::vector<char> zone_taken(zones);
  std::vector<char> listed(count);
  std::vector<int> first;
  std::vector<int> passed;
  for (size_t t = 0; t < total; ++t) {
    first.clear();
    passed.clear();
    for (size_t step = 0; step < total; ++step) {
      const int m = ring->tokens_[(t + step) % total].member;
      if (listed[m]) continue;
      listed[m] = 1;
      if (!zone_taken[zone_of[m]]) {
        zone_taken[zone_of[m]] = 1;
        first.push_back(m);
      } else {
        passed.push_back(m);
      }
      const int found = static_cast<int>(first.size());
      if (found == per || (found == zones && found + static_cast<int>(passed.size()) >= per)) {
        break;
      }
    }
    int* dst = &ring->successors_[t * per];
    int n = 0;
    for (int m : first) {
      if (n < per) dst[n++] = m;
      listed[m] = 0;
      zone_taken[zone_of[m]] = 0;
    }
    for (int m : passed) {
      if (n < per) dst[n++] = m;
      listed[m] = 0;
    }
  }
  // Two tokens per bucket on average, 2^4 to 2^16 buckets.
  int bits = 4;
  while (bits < 16 && (size_t{1} << bits) < total / 2) ++bits;
  ring->bucket_bits_ = bits;
  ring->bucket_first_token_.resize(size_t{1} << bits);
  size_t t = 0;
  for (size_t b = 0; b < ring->bucket_first_token_.size(); ++b) {
    const uint64_t start = static_cast<uint64_t>(b) << (64 - bits);
    while (t < total && ring->tokens_[t].position < start) ++t;
    ring->bucket_first_token_[b] = static_cast<uint32_t>(t);
  }
  return RingPtr(std::move(ring));
}

int Ring::IndexOf(std::string_view id) const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

int Ring::PreferenceList(uint64_t hash, int n, int* out) const {
  // The first token at or after `hash` (wrapping to token 0 past the last one).
  size_t t = bucket_first_token_[hash >> (64 - bucket_bits_)];
  while (t < tokens_.size() && tokens_[t].position < hash) ++t;
  if (t == tokens_.size()) t = 0;
  // n <= 0 asks for nothing (a negative count must not reach std::copy).
  const int take = std::clamp(n, 0, successors_per_token_);
  const int* src = &successors_[t * successors_per_token_];
  std::copy(src, src + take, out);
  return take;
}

std::vector<Ring::Range> Ring::Ranges(int n) const {
  std::vector<Range> out(tokens_.size());
  const int take = std::clamp(n, 0, successors_per_token_);
  for (size_t t = 0; t < tokens_.size(); ++t) {
    Range& r = out[t];
    r.start = tokens_[t == 0 ? tokens_.size() - 1 : t - 1].position;
    r.end = tokens_[t].position;
    const int* src = &successors_[t * successors_per_token_];
    std::copy(src, src + take, r.replicas);
    r.count = take;
  }
  return out;
}

std::vector<int> Ring::OwnersOfKey(std::string_view key, int n) const {
  int buf[kMaxReplicas];
  const int got = PreferenceList(KeyHash(key), n, buf);
  return std::vector<int>(buf, buf + got);
}

std::vector<uint64_t> Ring::TokenPositions() const {
  std::vector<uint64_t> out;
  out.reserve(tokens_.size());
  for (const Token& t : tokens_) out.push_back(t.position);
  return out;
}

}  // namespace shoal
