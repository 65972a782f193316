#include "proxy/server/member_follower.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/client/node_client.h"
#include "common/membership/seeds.h"

namespace shoal::proxy {

namespace {

bool SameMembers(const std::vector<RingMember>& a, const std::vector<RingMember>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const RingMember& x, const RingMember& y) {
                      return x.id == y.id && x.address == y.address && x.zone == y.zone;
                    });
}

}  // namespace

MemberFollower::MemberFollower(FollowerOptions options, ClusterDirectory& directory)
    : options_(std::move(options)), directory_(directory) {}

MemberFollower::~MemberFollower() { Stop(); }

MembersListing MemberFollower::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

StatusOr<MembersListing> MemberFollower::Ask(const std::string& address) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  const int timeout = static_cast<int>(options_.timeout_ms);
  auto conn = client::NodeClient::Connect(*hp, timeout);
  if (!conn.ok()) return conn.status();
  auto hello = (*conn)->Hello(options_.cluster, options_.sender_id, options_.secret, timeout,
                              wire::PeerRole::Proxy);
  if (!hello.ok()) return hello.status();
  FrameBuilder& fb = (*conn)->builder();
  auto& b = fb.Start();
  const uint64_t id = (*conn)->NextRequestId();
  if (Status s = (*conn)->Send(
          fb.Finish(id, wire::Message::MembersRequest, wire::CreateMembersRequest(b).Union()),
          timeout);
      !s.ok()) {
    return s;
  }
  auto reply = (*conn)->Await(id, timeout);
  if (!reply.ok()) return reply.status();
  if ((*reply)->message_type() == wire::Message::Error) {
    return Status::Unavailable(client::DescribeError(*(*reply)->message_as_Error()));
  }
  const auto* resp = (*reply)->message_as_MembersResponse();
  if (resp == nullptr) return Status::Corruption("MembersRequest answered by something else");
  return DecodeMembersResponse(*resp);
}

Status MemberFollower::FetchOnce() {
  std::vector<std::string> candidates;
  auto add = [&candidates](const std::string& a) {
    if (!a.empty() && std::find(candidates.begin(), candidates.end(), a) == candidates.end()) {
      candidates.push_back(a);
    }
  };
  add(last_good_);
  std::vector<std::string> errors;
  for (const auto& a : ResolveSeeds(options_.seeds, &errors)) add(a);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : latest_.entries) add(e.record.address);
  }
  Status last = Status::Unavailable("no seed resolves" +
                                    (errors.empty() ? std::string() : ": " + errors.front()));
  for (const std::string& address : candidates) {
    auto listing = Ask(address);
    if (!listing.ok()) {
      last = Status::Unavailable(address + ": " + listing.status().message());
      if (address == last_good_) last_good_.clear();
      continue;
    }
    std::vector<RingMember> members = RingMembersOf(*listing);
    std::vector<RingMember> joining = MembersOf(*listing, JoiningState);
    if (members.empty()) {
      last = Status::Unavailable(address + ": its member table has no ring member yet");
      continue;
    }
    last_good_ = address;
    // The listing is shown (Latest) only once the ring it forms is published: whoever reads a
    // member in it and then takes the directory's view routes with that member.
    auto show = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      latest_ = std::move(*listing);
    };
    if (SameMembers(members, published_) && SameMembers(joining, published_joining_)) {
      show();
      return Status::Ok();
    }
    auto ring = Ring::Build(members, options_.tokens_per_node);
    if (!ring.ok()) return ring.status();
    RingPtr pending;
    std::string joining_ids;
    if (!joining.empty()) {
      std::vector<RingMember> with = members;
      for (const auto& m : joining) {
        with.push_back(m);
        joining_ids += (joining_ids.empty() ? "" : ",") + m.id + "=" + m.address;
      }
      auto built = Ring::Build(std::move(with), options_.tokens_per_node);
      if (!built.ok()) return built.status();
      pending = *built;
    }
    if (Status s = directory_.Publish(*ring, pending); !s.ok()) return s;
    show();
    std::string ids;
    for (const auto& m : members) ids += (ids.empty() ? "" : ",") + m.id + "=" + m.address;
    spdlog::info("cluster members (from {}): {}{}{}", address, ids,
                 joining_ids.empty() ? "" : "; joining: ", joining_ids);
    published_ = std::move(members);
    published_joining_ = std::move(joining);
    return Status::Ok();
  }
  return last;
}

void MemberFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void MemberFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MemberFollower::Run() {
  int64_t failures = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(options_.refresh_ms), [this] { return stop_; });
      if (stop_) return;
    }
    Status s = FetchOnce();
    if (!s.ok()) {
      // Keep routing with the last ring; say so now and then.
      if (failures++ % 30 == 0) spdlog::warn("cannot refresh the cluster members: {}", s.message());
    } else {
      failures = 0;
    }
  }
}

}  // namespace shoal::proxy
