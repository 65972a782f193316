// Set commands over several keys (docs/data-model.md): the set algebra (SINTER SUNION SDIFF, their
// STORE variants, SINTERCARD) reads every key, combines the merged bodies here, and the STORE
// variants then write the destination whole (a new version: a whole-key write, as Redis
// overwrites it; none, a delete, when the result is empty). SMOVE reads both keys (Redis's
// checks), removes the member from the source (a member tombstone) and, when the source held it,
// adds it to the destination: two writes, not atomic (a failure between them leaves the member in
// neither; a retry adds it back).

#include <algorithm>
#include <string>
#include <vector>

#include "common/typed/elements.h"
#include "proxy/command/key_commands.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/element_replies.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

// SMOVE phase 0 flags (ReplySlot::extra[0]).
constexpr int64_t kSrcLive = 1;
constexpr int64_t kSrcWrongType = 2;
constexpr int64_t kDstWrongType = 4;
constexpr int64_t kSrcHasMember = 8;

bool IsStore(CommandId id) {
  return id == CommandId::kSInterStore || id == CommandId::kSUnionStore ||
         id == CommandId::kSDiffStore;
}

// The combined members, sorted. `bodies`: one merged body per key (empty: no such key).
std::vector<std::string_view> Combine(CommandId id, const std::vector<std::string>& bodies,
                                      size_t keys) {
  std::vector<std::string_view> acc, next, out;
  LiveNames(bodies[0], &acc);
  for (size_t i = 1; i < keys; ++i) {
    LiveNames(bodies[i], &next);
    out.clear();
    if (id == CommandId::kSUnion || id == CommandId::kSUnionStore) {
      std::set_union(acc.begin(), acc.end(), next.begin(), next.end(), std::back_inserter(out));
    } else if (id == CommandId::kSDiff || id == CommandId::kSDiffStore) {
      std::set_difference(acc.begin(), acc.end(), next.begin(), next.end(),
                          std::back_inserter(out));
    } else {
      std::set_intersection(acc.begin(), acc.end(), next.begin(), next.end(),
                            std::back_inserter(out));
    }
    acc.swap(out);
  }
  return acc;
}

}  // namespace

void ClientConnection::PrepareSetSlot(ReplySlot& slot, Args args, uint32_t keys) {
  if (slot.command == CommandId::kSMove) {
    slot.parts = {std::string(args[1]), std::string(args[2]), std::string(args[3])};
    return;
  }
  slot.parts.assign(keys, std::string());
  if (IsStore(slot.command)) slot.parts.emplace_back(args[1]);  // the destination, last
}

void ClientConnection::FormatSetKey(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer) {
  const bool wrong = answer.live && answer.value_type != typed::ValueType::kSet;
  if (slot.command == CommandId::kSMove) {
    if (slot.phase == 0) {
      if (key_index == 0 && wrong) slot.extra[0] |= kSrcWrongType;
      if (key_index == 1 && wrong) slot.extra[0] |= kDstWrongType;
      if (key_index == 0 && answer.live && !wrong) {
        slot.extra[0] |= kSrcLive;
        typed::ElementsView body;
        if (typed::DecodeElements(answer.value, &body)) {
          const typed::ElementView* e = body.Find(slot.parts[2]);
          if (e != nullptr && e->live()) slot.extra[0] |= kSrcHasMember;
        }
      }
    } else if (slot.phase == 1) {
      slot.integer = answer.integer;  // the SREM removed it (1) or someone else did first (0)
    }
    return;
  }
  if (slot.phase != 0) return;  // a STORE's write: its failure is reported by FormatDecided
  if (wrong) {
    if (slot.error.empty()) slot.error = kWrongType;
    return;
  }
  slot.parts[key_index].assign(answer.live ? answer.value : std::string_view());
}

bool ClientConnection::NextSetPhase(ReplySlot& slot) {
  if (!slot.error.empty()) return false;
  if (slot.command == CommandId::kSMove) {
    const int64_t f = slot.extra[0];
    if (slot.phase == 0) {
      if (!(f & (kSrcLive | kSrcWrongType))) return false;  // no source: 0, as Redis
      if (f & (kSrcWrongType | kDstWrongType)) {
        slot.error = kWrongType;
        return false;
      }
      if (slot.parts[0] == slot.parts[1] || !(f & kSrcHasMember)) {
        slot.integer = (f & kSrcHasMember) ? 1 : 0;
        return false;
      }
    } else if (slot.phase != 1 || slot.integer != 1) {
      return false;  // done (or the member was gone from the source by then: 0)
    }
    // Phase 1: SREM source member; phase 2: SADD destination member.
    const bool remove = slot.phase == 0;
    slot.phase = remove ? 1 : 2;
    const std::string_view member = slot.parts[2];
    KeyPlan plan;
    plan.mode = KeyMode::kReadThenWrite;
    plan.want_value = true;
    plan.transform = ValueTransform::kElements;
    plan.element_op = remove ? ElementOp::kSRem : ElementOp::kSAdd;
    plan.element_args = {&member, 1};
    plan.sloppy = sloppy_;
    plan.max_elements = worker_.config().max_elements_per_key;
    plan.max_bytes = worker_.config().max_bytes_per_key;
    StartKeys(slot, 1);
    worker_.StartKeyOp(*this, slot, 0, slot.parts[remove ? 0 : 1], write_level_, plan);
    return true;
  }
  if (!IsStore(slot.command) || slot.phase != 0) return false;
  const size_t keys = slot.parts.size() - 1;
  const std::vector<std::string_view> members = Combine(slot.command, slot.parts, keys);
  slot.integer = static_cast<int64_t>(members.size());
  std::vector<typed::ElementView> elements;
  elements.reserve(members.size());
  // A whole-key write: the elements need no versions of their own (any later element write has a
  // greater one).
  for (std::string_view m : members)
    elements.push_back({m, Version{}, typed::ElementKind::kValue, {}});
  std::string body = typed::EncodeElements(elements);
  const std::string destination = slot.parts.back();
  slot.parts.clear();
  slot.parts.push_back(std::move(body));
  slot.phase = 1;
  KeyPlan plan;
  plan.mode = KeyMode::kWrite;
  plan.tombstone = members.empty();  // Redis deletes the destination of an empty result
  plan.value = plan.tombstone ? std::string_view() : std::string_view(slot.parts[0]);
  plan.value_type = typed::ValueType::kSet;
  plan.sloppy = sloppy_;
  StartKeys(slot, 1);
  worker_.StartKeyOp(*this, slot, 0, destination, write_level_, plan);
  return true;
}

void ClientConnection::FinalizeSet(ReplySlot& slot) {
  resp::Writer w(slot.reply, slot.protocol);
  if (slot.command == CommandId::kSMove || IsStore(slot.command)) {
    w.Integer(slot.integer);
    slot.parts.clear();
    return;
  }
  const std::vector<std::string_view> members =
      Combine(slot.command, slot.parts, slot.parts.size());
  if (slot.command == CommandId::kSInterCard) {
    int64_t n = static_cast<int64_t>(members.size());
    if (slot.extra[0] > 0) n = std::min(n, slot.extra[0]);
    w.Integer(n);
  } else {
    w.Set(static_cast<int64_t>(members.size()));
    for (std::string_view m : members) w.Bulk(m);
  }
  slot.parts.clear();
}

}  // namespace shoal::proxy
