#include "tools/sim/sim_proxy.h"

#include <utility>

#include "common/hash/key_hash.h"

namespace shoal::sim {

namespace {
Version FromWire(const wire::Version* v) {
  return v == nullptr ? Version{} : Version{v->hlc(), v->writer()};
}
constexpr int64_t kMaxClockOffsetMs = 3'600'000;
}  // namespace

const char* CommandName(CommandKind kind) {
  switch (kind) {
    case CommandKind::kGet:
      return "GET";
    case CommandKind::kSet:
      return "SET";
    case CommandKind::kDel:
      return "DEL";
    case CommandKind::kExpire:
      return "PEXPIREAT";
    case CommandKind::kPersist:
      return "PERSIST";
  }
  return "?";
}

SimProxy::SimProxy(int index, uint64_t writer, int64_t clock_offset_ms, RingPtr ring, int replicas,
                   int64_t timeout_ms, EventQueue& queue, SimNetwork& network,
                   std::function<void(const Issued&)> on_issue)
    : index_(index),
      writer_(writer),
      clock_offset_ms_(clock_offset_ms),
      hlc_(clock_, kMaxClockOffsetMs),
      ring_(std::move(ring)),
      replicas_(replicas),
      timeout_ms_(timeout_ms),
      queue_(queue),
      network_(network),
      on_issue_(std::move(on_issue)) {
  SetTime(queue_.now());
}

void SimProxy::Execute(const Command& command, std::function<void(const Outcome&)> done) {
  auto op = std::make_unique<Op>();
  op->command = command;
  op->done = std::move(done);
  Start(std::move(op));
}

void SimProxy::Absorb(const wire::Version* v) {
  if (v != nullptr && v->hlc() != 0) (void)hlc_.Update(v->hlc());
}

void SimProxy::Start(std::unique_ptr<Op> owned) {
  SetTime(queue_.now());
  Op& op = *owned;
  op.id = next_op_++;
  ops_[op.id] = std::move(owned);
  const Command& c = op.command;
  op.is_read = c.kind == CommandKind::kGet;
  op.n = ring_->PreferenceList(KeyHash(c.key), replicas_, op.members);
  const int required = proxy::RequiredReplicas(c.level, replicas_);
  if (op.is_read) {
    op.read.Start(op.n, required);
  } else {
    op.write.Start(op.n, required, false);
    op.version = Version{hlc_.Now(), writer_};
    const bool touch = c.kind == CommandKind::kExpire || c.kind == CommandKind::kPersist;
    on_issue_(Issued{c.kind, c.key, op.version, c.kind == CommandKind::kSet ? c.value : "",
                     c.kind == CommandKind::kPersist ? 0 : c.expire_at_ms,
                     c.kind == CommandKind::kDel});
    (void)touch;
  }
  op.pending_count = op.n;
  for (int r = 0; r < op.n; ++r) op.pending[r] = true;
  const uint64_t op_id = op.id;
  for (int r = 0; r < op.n; ++r) {
    const uint64_t request_id = next_request_++;
    requests_[request_id] = Pending{op_id, r};
    auto& b = builder_.Start();
    const auto key = Bytes(b, c.key);
    std::span<const uint8_t> frame;
    const wire::Version version(op.version.hlc, op.version.writer);
    switch (c.kind) {
      case CommandKind::kGet: {
        auto get = wire::CreateGet(b, key, true);
        frame = builder_.Finish(request_id, wire::Message::Get, get.Union());
        break;
      }
      case CommandKind::kSet:
      case CommandKind::kDel: {
        const bool tombstone = c.kind == CommandKind::kDel;
        auto put = wire::CreatePut(b, key, tombstone ? 0 : Bytes(b, c.value), &version,
                                   tombstone ? 0 : static_cast<uint64_t>(c.expire_at_ms),
                                   tombstone);
        frame = builder_.Finish(request_id, wire::Message::Put, put.Union());
        break;
      }
      case CommandKind::kExpire:
      case CommandKind::kPersist: {
        const uint64_t expire =
            c.kind == CommandKind::kPersist ? 0 : static_cast<uint64_t>(c.expire_at_ms);
        auto touch = wire::CreateTouch(b, key, &version, expire, false);
        frame = builder_.Finish(request_id, wire::Message::Touch, touch.Union());
        break;
      }
    }
    network_.SendToReplica(index_, op.members[r], std::vector<uint8_t>(frame.begin(), frame.end()));
  }
  // Per-request deadline: every replica still pending then counts as failed.
  queue_.After(timeout_ms_, [this, op_id] {
    for (int r = 0; r < Ring::kMaxReplicas; ++r) {
      auto it = ops_.find(op_id);
      if (it == ops_.end()) return;
      if (r < it->second->n && it->second->pending[r]) ReplicaDone(*it->second, r, nullptr);
    }
  });
}

void SimProxy::OnResponse(int replica, std::span<const uint8_t> frame) {
  SetTime(queue_.now());
  DecodedFrame decoded;
  if (DecodeFrame(frame.data(), frame.size(), kDefaultMaxFrameBytes, &decoded) != FrameStatus::kOk) {
    return;
  }
  auto it = requests_.find(decoded.envelope->request_id());
  if (it == requests_.end()) return;  // a duplicate, a late answer, or a repair's reply
  const Pending pending = it->second;
  requests_.erase(it);
  auto op = ops_.find(pending.op);
  if (op == ops_.end() || !op->second->pending[pending.slot]) return;
  ReplicaDone(*op->second, pending.slot, decoded.envelope);
}

void SimProxy::ReplicaDone(Op& op, int slot, const wire::Envelope* env) {
  op.pending[slot] = false;
  --op.pending_count;
  if (env != nullptr && env->message_type() == wire::Message::Error) env = nullptr;
  if (env == nullptr) {
    op.is_read ? op.read.OnFailure(slot) : op.write.OnFailure(slot);
  } else if (op.is_read) {
    const auto* get = env->message_as_GetResponse();
    if (get == nullptr) {
      op.read.OnFailure(slot);
    } else {
      Absorb(get->version());
      Absorb(get->expiry_version());
      proxy::ReadReply reply;
      reply.found = get->found();
      reply.tombstone = get->tombstone();
      reply.value = AsView(get->value());
      reply.version = FromWire(get->version());
      reply.expire_at_ms = static_cast<int64_t>(get->expire_at_ms());
      Version ev = FromWire(get->expiry_version());
      if (ev.IsZero()) ev = reply.version;
      op.replica_answered[slot] = true;
      op.replica_found[slot] = reply.found;
      op.replica_version[slot] = reply.version;
      op.replica_expiry_version[slot] = ev;
      if (reply.found && (!op.best_found || std::pair(reply.version, ev) >
                                                std::pair(op.best_version, op.best_expiry_version))) {
        op.best_found = true;
        op.best_tombstone = reply.tombstone;
        op.best_value.assign(reply.value.data(), reply.value.size());
        op.best_version = reply.version;
        op.best_expiry_version = ev;
        op.best_expire_at_ms = reply.expire_at_ms;
      }
      op.read.OnReply(slot, reply);
    }
  } else if (op.command.kind == CommandKind::kSet || op.command.kind == CommandKind::kDel) {
    const auto* put = env->message_as_PutResponse();
    if (put == nullptr) {
      op.write.OnFailure(slot);
    } else {
      Absorb(put->current());
      Absorb(put->current_expiry_version());
      proxy::WriteReply reply;
      reply.applied = put->applied();
      reply.condition_failed = put->condition_failed();
      reply.previous_found = put->previous_found();
      reply.previous_version = FromWire(put->previous_version());
      reply.previous_expire_at_ms = static_cast<int64_t>(put->previous_expire_at_ms());
      // A replica holding a newer version than this write (not a duplicate of it).
      if (!reply.applied && put->current() != nullptr && FromWire(put->current()) > op.version) {
        op.stale_somewhere = true;
      }
      op.write.OnReply(slot, reply);
    }
  } else {
    const auto* touch = env->message_as_TouchResponse();
    if (touch == nullptr) {
      op.write.OnFailure(slot);
    } else {
      Absorb(touch->version());
      Absorb(touch->previous_expiry_version());
      proxy::WriteReply reply;
      reply.applied = touch->applied();
      reply.condition_failed = touch->condition_failed();
      reply.previous_found = touch->found();
      reply.previous_version = FromWire(touch->version());
      reply.previous_expire_at_ms = static_cast<int64_t>(touch->previous_expire_at_ms());
      op.write.OnReply(slot, reply);
    }
  }
  const uint64_t id = op.id;
  MaybeDecide(op);
  auto it = ops_.find(id);
  if (it != ops_.end() && it->second->pending_count == 0) Finish(*it->second);
}

void SimProxy::MaybeDecide(Op& op) {
  if (!op.done) return;
  const proxy::QuorumDecision decision =
      op.is_read ? op.read.decision() : op.write.decision();
  if (decision == proxy::QuorumDecision::kPending) return;
  // As the proxy does: a failed quorum is reported once every replica has answered.
  if (decision == proxy::QuorumDecision::kFailed && op.pending_count > 0) return;
  const bool value_write =
      op.command.kind == CommandKind::kSet || op.command.kind == CommandKind::kDel;
  if (decision == proxy::QuorumDecision::kReached && value_write && op.stale_somewhere &&
      !op.retried) {
    // docs/replication.md: refused as stale by a replica that answered: re-stamp (the HLC has
    // absorbed the newer versions held) and retry once, as proxy/quorum/key_operation does.
    ++stale_retries_;
    auto retry = std::make_unique<Op>();
    retry->command = op.command;
    retry->done = std::move(op.done);
    op.done = nullptr;
    retry->retried = true;
    Start(std::move(retry));
    return;
  }
  Outcome outcome;
  outcome.ok = decision == proxy::QuorumDecision::kReached;
  if (op.is_read) {
    const int64_t now = NowMs();
    outcome.found = op.best_found && !op.best_tombstone &&
                    (op.best_expire_at_ms == 0 || op.best_expire_at_ms > now);
    if (outcome.found) outcome.value = op.best_value;
    outcome.version = op.best_version;
  } else {
    outcome.version = op.version;
    outcome.applied = op.write.applied();
    outcome.integer = op.write.previous_found() ? 1 : 0;
  }
  auto done = std::move(op.done);
  op.done = nullptr;
  done(outcome);
}

void SimProxy::Finish(Op& op) {
  if (op.is_read) SendRepairs(op);
  ops_.erase(op.id);  // `op` is gone
}

void SimProxy::SendRepairs(Op& op) {
  if (!op.best_found) return;
  const auto best = std::pair(op.best_version, op.best_expiry_version);
  for (int r = 0; r < op.n; ++r) {
    if (!op.replica_answered[r]) continue;
    if (op.replica_found[r] &&
        std::pair(op.replica_version[r], op.replica_expiry_version[r]) >= best) {
      continue;
    }
    auto& b = builder_.Start();
    const Version v = op.best_version;
    const wire::Version version(v.hlc, v.writer);
    const wire::Version expiry_version(op.best_expiry_version.hlc, op.best_expiry_version.writer);
    auto put = wire::CreatePut(
        b, Bytes(b, op.command.key), op.best_tombstone ? 0 : Bytes(b, op.best_value),
        &version, static_cast<uint64_t>(op.best_expire_at_ms), op.best_tombstone,
        wire::PutCondition::Always, false, false, &expiry_version);
    // Request id 0 is never pending: the reply is ignored, as the proxy's unwatched repairs are.
    auto frame = builder_.Finish(0, wire::Message::Put, put.Union());
    network_.SendToReplica(index_, op.members[r], std::vector<uint8_t>(frame.begin(), frame.end()));
    ++read_repairs_;
  }
}

}  // namespace shoal::sim
