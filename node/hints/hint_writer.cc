#include "node/hints/hint_writer.h"

#include <algorithm>

namespace shoal::node::hints {

HintWriter::~HintWriter() { Stop(); }

void HintWriter::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || !accepting_) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void HintWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // Anything queued without a thread (never started) is written here.
  while (WriteGroup() > 0) {
  }
}

void HintWriter::Submit(Hint hint, HintTicket ticket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (accepting_) {
      queued_.push_back(std::move(hint));
      tickets_.push_back(ticket);
      if (queued_.size() == 1) wake_.notify_one();
      return;
    }
  }
  spool_.Release(hint.SpoolBytes());
  const Result result{ticket, Status::Unavailable("the node is stopping")};
  sink_(std::span<const Result>(&result, 1));
}

void HintWriter::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) return;  // stopping, and everything queued is written
    }
    WriteGroup();
  }
}

size_t HintWriter::WriteGroup() {
  std::vector<Hint> group;
  std::vector<HintTicket> tickets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    group.swap(queued_);
    tickets.swap(tickets_);
  }
  if (group.empty()) return 0;
  const Status status = spool_.Append(group, spool_counters_);
  stats_.groups.Inc();
  const auto size = static_cast<int64_t>(group.size());
  if (size > stats_.largest_group.Value()) stats_.largest_group.Set(size);
  std::vector<Result> results;
  results.reserve(tickets.size());
  for (const HintTicket& t : tickets) results.push_back(Result{t, status});
  sink_(results);
  return group.size();
}

}  // namespace shoal::node::hints
