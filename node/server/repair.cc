#include "node/server/repair.h"

#include <utility>

#include "schemas/shoal_generated.h"

namespace shoal::node {

bool RepairRequests::Add(RepairDone done) {
  if (closed_) return false;
  queued_.push_back(std::move(done));
  return true;
}

std::vector<RepairDone> RepairRequests::TakeAll() {
  std::vector<RepairDone> taken;
  taken.swap(queued_);
  return taken;
}

std::vector<RepairDone> RepairRequests::Close() {
  closed_ = true;
  return TakeAll();
}

RepairResult RepairRefused(std::string why) {
  RepairResult r;
  r.ok = false;
  r.error = std::move(why);
  return r;
}

RepairResult RepairRoundResult(uint32_t peers_ok, const std::vector<std::string>& failures,
                               uint64_t keys_repaired, uint64_t bytes_repaired) {
  RepairResult r;
  r.ok = true;
  r.peers = peers_ok;
  r.keys_repaired = keys_repaired;
  r.bytes_repaired = bytes_repaired;
  if (!failures.empty()) {
    r.error = std::to_string(failures.size()) + " of " +
              std::to_string(failures.size() + peers_ok) + " peers not repaired: ";
    for (size_t i = 0; i < failures.size(); ++i) {
      if (i > 0) r.error += "; ";
      r.error += failures[i];
    }
  }
  return r;
}

std::span<const uint8_t> BuildRepairResponseFrame(FrameBuilder& builder, uint64_t request_id,
                                                  const RepairResult& result) {
  auto& b = builder.Start();
  auto error = result.error.empty() ? 0 : b.CreateString(result.error);
  auto resp = wire::CreateRepairResponse(b, result.ok, error, result.peers, result.keys_repaired,
                                         result.bytes_repaired);
  return builder.Finish(request_id, wire::Message::RepairResponse, resp.Union());
}

}  // namespace shoal::node
