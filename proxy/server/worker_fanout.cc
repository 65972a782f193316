// Worker: fan-out requests (fanout.h). Split from worker.cc to keep files small; same class, same
// thread (the worker's).

#include <cassert>

#include "proxy/server/worker.h"

namespace shoal::proxy {

void Worker::Fanout(std::unique_ptr<FanoutHandler> handler,
                    std::span<const FanoutRequest> requests) {
  assert(requests.size() <= 255);
  uint32_t index;
  if (!free_fanouts_.empty()) {
    index = free_fanouts_.back();
    free_fanouts_.pop_back();
  } else {
    index = static_cast<uint32_t>(fanouts_.size());
    fanouts_.push_back(std::make_unique<FanoutOp>());
  }
  FanoutOp& op = *fanouts_[index];
  op.in_use = true;
  op.handler = std::move(handler);
  op.waiting.assign(requests.size(), true);
  op.members.clear();
  for (const auto& r : requests) op.members.push_back(r.member);
  op.pending = requests.size() + 1;  // + 1 while sending: no OnDone before every request is out
  const uint32_t generation = op.generation;
  for (size_t i = 0; i < requests.size(); ++i) {
    stats_.upstream[requests[i].member]->requests.Inc();
    const PendingRef ref{index | kFanoutOwnerBit, generation, static_cast<uint8_t>(i)};
    if (!links_[requests[i].member]->Send(requests[i].frame, ref,
                                          MonotonicMs() + shared_.settings.timeout_ms())) {
      FanoutReplied(ref, nullptr);
    }
  }
  // The sending guard: finishes the op if every request has been answered already.
  FanoutOp& same = *fanouts_[index];
  if (--same.pending > 0) return;
  std::unique_ptr<FanoutHandler> done = std::move(same.handler);
  same.in_use = false;
  ++same.generation;
  free_fanouts_.push_back(index);
  FanoutHandler* raw = done.get();
  raw->OnDone(*this, std::move(done));
}

void Worker::FanoutReplied(const PendingRef& ref, const wire::Envelope* envelope) {
  const uint32_t index = ref.owner & ~kFanoutOwnerBit;
  if (index >= fanouts_.size()) return;
  FanoutOp& op = *fanouts_[index];
  if (!op.in_use || op.generation != ref.generation || ref.slot >= op.waiting.size() ||
      !op.waiting[ref.slot]) {
    return;  // late, or already failed
  }
  op.waiting[ref.slot] = false;
  if (envelope == nullptr) stats_.upstream[op.members[ref.slot]]->failures.Inc();
  op.handler->OnReply(ref.slot, envelope);
  FanoutOp& same = *fanouts_[index];  // OnReply may start other fan-outs (fanouts_ may grow)
  if (--same.pending > 0) return;
  std::unique_ptr<FanoutHandler> done = std::move(same.handler);
  same.in_use = false;
  ++same.generation;
  free_fanouts_.push_back(index);
  FanoutHandler* raw = done.get();
  raw->OnDone(*this, std::move(done));
}

}  // namespace shoal::proxy
