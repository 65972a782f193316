#include "tools/sim/sim_proxy.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "common/hash/key_hash.h"
#include "common/wire/version_wire.h"
#include "proxy/command/command_table.h"
#include "proxy/command/key_commands.h"
#include "proxy/server/proxy_config.h"
#include "proxy/upstream/key_messages.h"

namespace shoal::sim {

using proxy::KeyAnswer;
using proxy::KeyMode;
using proxy::KeyOperation;
using proxy::NodeRequest;

namespace {

std::string VersionText(const Version& v) {
  return std::to_string(HlcWallMs(v.hlc) % 1'000'000) + "." + std::to_string(HlcLogical(v.hlc)) +
         "/w" + std::to_string(v.writer % 1000);
}

std::string RequestText(const NodeRequest& r) {
  switch (r.type) {
    case NodeRequest::Type::kGet:
      return r.want_value ? "Get+value" : "Get";
    case NodeRequest::Type::kPut:
      return std::string(r.tombstone ? "Put tombstone" : "Put ") +
             (r.tombstone ? "" : std::string(r.value)) + " v=" + VersionText(r.version) +
             " exp=" + std::to_string(r.expire_at_ms % 1'000'000);
    case NodeRequest::Type::kTouch:
      return "Touch ev=" + VersionText(r.version) +
             " exp=" + std::to_string(r.expire_at_ms % 1'000'000);
    case NodeRequest::Type::kHintPut:
      return std::string("HintPut for=") + std::to_string(r.hint_for) +
             (r.tombstone ? " tombstone" : " ") + (r.tombstone ? "" : std::string(r.value)) +
             " v=" + VersionText(r.version) + " exp=" + std::to_string(r.expire_at_ms % 1'000'000);
  }
  return "?";
}

std::string ReplyText(const wire::Envelope* env) {
  if (env == nullptr) return "timeout";
  if (const auto* e = env->message_as_Error()) {
    return std::string("Error ") + wire::EnumNameErrorCode(e->code());
  }
  auto state = [](bool found, bool tombstone, const wire::Version* v, const wire::Version* ev,
                  uint64_t exp) {
    if (!found && !tombstone && FromWire(v).IsZero()) return std::string("absent");
    return std::string(tombstone ? "tombstone"
                       : found   ? "value"
                                 : "held") +
           " v=" + VersionText(FromWire(v)) + " ev=" + VersionText(FromWire(ev)) +
           " exp=" + std::to_string(exp % 1'000'000);
  };
  if (const auto* g = env->message_as_GetResponse()) {
    return "GetResponse " +
           state(g->found(), g->tombstone(), g->version(), g->expiry_version(), g->expire_at_ms()) +
           (g->value() != nullptr && g->value()->size() > 0
                ? " value=" + std::string(AsView(g->value()))
                : "");
  }
  if (const auto* p = env->message_as_PutResponse()) {
    return std::string("PutResponse ") + (p->applied() ? "applied" : "refused") +
           " current=" + VersionText(FromWire(p->current())) + "/" +
           VersionText(FromWire(p->current_expiry_version())) +
           (p->previous_found() ? " previous live " : " previous ") +
           VersionText(FromWire(p->previous_version()));
  }
  if (const auto* t = env->message_as_TouchResponse()) {
    return std::string("TouchResponse ") + (t->applied() ? "applied" : "refused") + " previous " +
           state(t->found(), t->tombstone(), t->version(), t->previous_expiry_version(),
                 t->previous_expire_at_ms());
  }
  return "another message";
}

}  // namespace

struct SimProxy::Op {
  uint64_t id = 0;
  std::string key;
  proxy::KeyPlan plan;  // as started (its value points into the machine: not read)
  int n = 0;
  int members[Ring::kMaxReplicas] = {};
  std::string node_error;
  std::function<void(const Outcome&)> done;  // empty once called
  KeyOperation machine;
};

std::string Command::Text() const {
  std::string text;
  for (const std::string& a : args) {
    if (!text.empty()) text += ' ';
    text += a;
  }
  return text;
}

SimProxy::SimProxy(int index, uint64_t writer, int64_t clock_offset_ms, RingPtr ring, int replicas,
                   int64_t timeout_ms, EventQueue& queue, SimNetwork& network,
                   std::function<void(const Issued&)> on_issue)
    : index_(index),
      writer_(writer),
      clock_offset_ms_(clock_offset_ms),
      hlc_(clock_, proxy::ProxyConfig{}.max_clock_offset_ms),
      ring_(std::move(ring)),
      replicas_(replicas),
      timeout_ms_(timeout_ms),
      queue_(queue),
      network_(network),
      on_issue_(std::move(on_issue)) {
  SetTime(queue_.now());
}

SimProxy::~SimProxy() = default;

void SimProxy::Execute(const Command& command, std::function<void(const Outcome&)> done) {
  SetTime(queue_.now());
  std::vector<std::string_view> args(command.args.begin(), command.args.end());
  Outcome refused;
  const proxy::CommandSpec* spec = args.empty() ? nullptr : proxy::LookupCommand(args[0]);
  if (spec == nullptr || !proxy::ArityOk(*spec, args.size())) {
    refused.error = "ERR unknown command or wrong number of arguments";
    return done(refused);
  }
  // As ClientConnection::ExecuteKeyCommand plans it and Worker::StartKeyOp starts it.
  proxy::KeyCommand planned;
  refused.error = proxy::PlanKeyCommand(*spec, args, NowMs(), UINT64_MAX, &planned);
  if (!refused.error.empty()) return done(refused);
  if (planned.keys != 1) {
    refused.error = "ERR the simulation runs single-key commands";
    return done(refused);
  }
  auto owned = std::make_unique<Op>();
  Op& op = *owned;
  op.id = next_op_++;
  op.done = std::move(done);
  op.key = std::string(planned.Key(args, 0));
  op.n = ring_->PreferenceList(KeyHash(op.key), replicas_, op.members);
  proxy::KeyPlan plan = planned.PlanFor(args, 0);
  plan.n = op.n;
  plan.required = proxy::RequiredReplicas(
      planned.write_level ? command.write_level : command.read_level, replicas_);
  plan.value_replica = static_cast<int>(value_rotation_++ % Ring::kMaxReplicas);
  op.machine.Start(plan, hlc_, writer_, NowMs());
  op.plan = plan;
  op.plan.value = {};
  ops_[op.id] = std::move(owned);
  Advance(op);
}

// As Worker::Advance: send what the machine asks for, answer once, repair and forget once
// finished.
void SimProxy::Advance(Op& op) {
  KeyOperation& m = op.machine;
  while (!m.requests().empty()) {
    NodeRequest batch[KeyOperation::kMaxBatch];
    const auto requests = m.requests();
    const size_t count = std::min(requests.size(), std::size(batch));
    std::copy_n(requests.begin(), count, batch);
    m.ClearRequests();
    for (size_t i = 0; i < count; ++i) Send(op, batch[i]);
  }
  if (m.answered() && op.done) {
    const KeyAnswer& a = m.answer();
    const proxy::KeyPlan& plan = op.plan;
    Outcome o;
    o.ok = a.failure == KeyAnswer::Failure::kNone;
    if (!o.ok) {
      o.error = "NOQUORUM (" + std::to_string(a.acks) + " of " + std::to_string(a.required) + ")";
    }
    o.saw_state = plan.mode != KeyMode::kWrite;
    o.state = a.state;
    o.live = a.live;
    o.has_value = a.live && (plan.want_value || plan.touch_wants_value);
    if (o.has_value) o.value = std::string(a.value);
    o.performed = a.performed;
    o.previous_live = a.previous_live;
    o.wrote = o.ok && (plan.mode != KeyMode::kRead) &&
              (plan.mode != KeyMode::kReadThenWrite || a.performed);
    o.wrote_touch = plan.mode == KeyMode::kTouch || plan.write_is_touch;
    o.tombstone = !o.wrote_touch && plan.tombstone;
    if (o.wrote) o.written = m.write_version();
    auto done = std::move(op.done);
    op.done = nullptr;
    done(o);
  }
  if (!m.finished()) return;
  SendRepairs(op);
  stale_retries_ += static_cast<uint64_t>(m.stale_retries());
  ops_.erase(op.id);  // `op` is gone
}

void SimProxy::Send(Op& op, const NodeRequest& req) {
  if (req.type != NodeRequest::Type::kGet) {
    Issued issued;
    issued.key = op.key;
    issued.touch = req.type == NodeRequest::Type::kTouch;
    issued.version = req.version;
    issued.tombstone = req.tombstone;
    issued.value = std::string(req.value);
    issued.expire_at_ms = req.expire_at_ms;
    on_issue_(issued);
  }
  const uint64_t request_id = next_request_++;
  requests_[request_id] = Pending{op.id, req.tag};
  if (trace_) {
    trace_("p" + std::to_string(index_) + " -> n" + std::to_string(op.members[req.replica]) + " #" +
           std::to_string(req.tag) + " " + op.key + " " + RequestText(req));
  }
  const auto frame = proxy::BuildKeyRequest(builder_, request_id, op.key, req);
  network_.SendToReplica(index_, op.members[req.replica],
                         std::vector<uint8_t>(frame.begin(), frame.end()));
  // Each request times out on its own, a timeout after it is sent (NodeLink::ExpireRequests).
  queue_.After(timeout_ms_, [this, request_id] {
    auto it = requests_.find(request_id);
    if (it == requests_.end()) return;
    const Pending pending = it->second;
    requests_.erase(it);
    SetTime(queue_.now());
    ReplicaDone(pending, nullptr);
  });
}

void SimProxy::OnResponse(int replica, std::span<const uint8_t> frame) {
  SetTime(queue_.now());
  DecodedFrame decoded;
  if (DecodeFrame(frame.data(), frame.size(), kDefaultMaxFrameBytes, &decoded) !=
      FrameStatus::kOk) {
    return;
  }
  auto it = requests_.find(decoded.envelope->request_id());
  if (it == requests_.end()) return;  // a duplicate, a late answer, or a repair's reply
  const Pending pending = it->second;
  requests_.erase(it);
  ReplicaDone(pending, decoded.envelope);
}

void SimProxy::ReplicaDone(const Pending& pending, const wire::Envelope* envelope) {
  auto it = ops_.find(pending.op);
  if (it == ops_.end()) return;
  Op& op = *it->second;
  if (trace_) {
    trace_("p" + std::to_string(index_) + " <- n" +
           std::to_string(op.members[op.machine.replica_of(pending.tag)]) + " #" +
           std::to_string(pending.tag) + " " + op.key + " " + ReplyText(envelope));
  }
  proxy::FeedKeyReply(op.machine, pending.tag, envelope, NowMs(), &op.node_error);
  Advance(op);
}

void SimProxy::SendRepairs(Op& op) {
  const uint32_t targets = op.machine.repair_targets();
  if (targets == 0) return;
  // Request id 0 is never pending: the reply is ignored, as the proxy's unwatched repairs are.
  const auto frame = proxy::BuildRepairPut(builder_, 0, op.key, op.machine.repair_state(),
                                           op.machine.repair_value(),
                                           op.machine.repair_type());
  for (int r = 0; r < op.n; ++r) {
    if (((targets >> r) & 1) == 0) continue;
    if (trace_) {
      const proxy::EntryState& s = op.machine.repair_state();
      trace_("p" + std::to_string(index_) + " -> n" + std::to_string(op.members[r]) + " " + op.key +
             " repair " + (s.tombstone ? "tombstone" : std::string(op.machine.repair_value())) +
             " v=" + VersionText(s.version) + " ev=" + VersionText(s.effective_expiry_version()));
    }
    network_.SendToReplica(index_, op.members[r], std::vector<uint8_t>(frame.begin(), frame.end()));
    ++read_repairs_;
  }
}

}  // namespace shoal::sim
