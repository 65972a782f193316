#include "proxy/server/element_replies.h"

#include <string>
#include <vector>

#include "common/text/glob.h"
#include "common/typed/elements.h"
#include "proxy/command/element_scan.h"
#include "proxy/command/key_commands.h"
#include "proxy/command/scan_args.h"
#include "proxy/resp/reply.h"

namespace shoal::proxy {

namespace {

using typed::ElementView;

// The live elements of a hash answer (none when the key is absent).
std::vector<ElementView> LiveElements(const KeyAnswer& answer, typed::ElementsView* storage) {
  std::vector<ElementView> out;
  if (!answer.live || !typed::DecodeElements(answer.value, storage)) return out;
  out.reserve(storage->elements.size());
  for (const ElementView& e : storage->elements) {
    if (e.live()) out.push_back(e);
  }
  return out;
}

const ElementView* FindLive(const typed::ElementsView& v, std::string_view name) {
  const ElementView* e = v.Find(name);
  return e != nullptr && e->live() ? e : nullptr;
}

// HRANDFIELD key count [WITHVALUES] (Redis 7.0's hrandfieldWithCountCommand).
void RandomFields(resp::Writer& w, const std::vector<ElementView>& fields, int64_t count,
                  bool with_values, std::mt19937_64& rng) {
  const bool pairs_nested = with_values && w.resp3();
  auto emit = [&](const ElementView& e) {
    if (pairs_nested) w.Array(2);
    w.Bulk(e.name);
    if (with_values) w.Bulk(typed::RenderElement(e));
  };
  auto header = [&](int64_t n) { w.Array(with_values && !w.resp3() ? n * 2 : n); };
  if (count == 0 || fields.empty()) {
    w.Array(0);
    return;
  }
  if (count < 0) {  // with repetitions, exactly -count
    const int64_t n = -count;
    header(n);
    std::uniform_int_distribution<size_t> pick(0, fields.size() - 1);
    for (int64_t i = 0; i < n; ++i) emit(fields[pick(rng)]);
    return;
  }
  std::vector<size_t> order(fields.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t n = std::min<size_t>(order.size(), static_cast<size_t>(count));
  if (n < order.size()) {
    for (size_t i = 0; i < n; ++i) {
      std::uniform_int_distribution<size_t> pick(i, order.size() - 1);
      std::swap(order[i], order[pick(rng)]);
    }
  }
  header(static_cast<int64_t>(n));
  for (size_t i = 0; i < n; ++i) emit(fields[order[i]]);
}

// HSCAN / SSCAN key cursor [MATCH p] [COUNT n] [NOVALUES]: one page (element_scan.h). The
// options are judged once the key is read, as Redis 7.4 does: a missing key answers the empty
// scan whatever they are.
void ScanPage(resp::Writer& w, const ReplySlot& slot, const KeyAnswer& answer,
              const std::vector<ElementView>& live, bool hash) {
  std::vector<std::string_view> args(slot.parts.begin(), slot.parts.end());
  ScanArgs scan;
  const std::string err = ParseScanArgs(args, &scan, hash ? ScanTarget::kHash : ScanTarget::kSet);
  if (!answer.live) {
    w.Array(2);
    w.Bulk("0");
    w.Array(0);
    return;
  }
  if (!err.empty()) {
    w.Error(err);
    return;
  }
  const ElementScanPage page = ScanElements(live, scan.cursor, scan.count, scan.pattern);
  const bool values = hash && !scan.no_values;
  w.Array(2);
  w.Bulk(std::to_string(page.cursor));
  w.Array(static_cast<int64_t>(page.elements.size() * (values ? 2 : 1)));
  for (const ElementView* e : page.elements) {
    w.Bulk(e->name);
    if (values) w.Bulk(typed::RenderElement(*e));
  }
}

}  // namespace

bool IsElementCommand(CommandId id) {
  switch (id) {
    case CommandId::kHSet:
    case CommandId::kHGet:
    case CommandId::kHMSet:
    case CommandId::kHMGet:
    case CommandId::kHGetAll:
    case CommandId::kHDel:
    case CommandId::kHExists:
    case CommandId::kHLen:
    case CommandId::kHKeys:
    case CommandId::kHVals:
    case CommandId::kHSetNx:
    case CommandId::kHStrLen:
    case CommandId::kHIncrBy:
    case CommandId::kHIncrByFloat:
    case CommandId::kHRandField:
    case CommandId::kHScan:
    case CommandId::kSAdd:
    case CommandId::kSRem:
    case CommandId::kSPop:
    case CommandId::kSIsMember:
    case CommandId::kSMIsMember:
    case CommandId::kSMembers:
    case CommandId::kSCard:
    case CommandId::kSRandMember:
    case CommandId::kSScan:
      return true;
    default:
      return false;
  }
}

bool IsSetCommand(CommandId id) { return id >= CommandId::kSAdd && id <= CommandId::kSScan; }

void LiveNames(std::string_view body, std::vector<std::string_view>* out) {
  out->clear();
  typed::ElementsView v;
  if (!typed::DecodeElements(body, &v)) return;
  for (const ElementView& e : v.elements) {
    if (e.live()) out->push_back(e.name);
  }
}

void FormatElementReply(ReplySlot& slot, const KeyAnswer& answer, std::mt19937_64& rng) {
  resp::Writer w(slot.reply, slot.protocol);
  if (!answer.error.empty()) {
    w.Error(answer.error);
    return;
  }
  const typed::ValueType want =
      IsSetCommand(slot.command) ? typed::ValueType::kSet : typed::ValueType::kHash;
  if (answer.live && answer.value_type != want) {
    w.Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    return;
  }
  typed::ElementsView body;
  switch (slot.command) {
    case CommandId::kHSet:
    case CommandId::kHSetNx:
    case CommandId::kHDel:
    case CommandId::kHIncrBy:
    case CommandId::kSAdd:
    case CommandId::kSRem:
      w.Integer(answer.integer);
      return;
    case CommandId::kSPop: {
      std::vector<std::string_view> popped;
      ForEachListItem(answer.value, [&](std::string_view m) { popped.push_back(m); });
      if (!(slot.variant & kReplyRandCount)) {
        if (popped.empty()) {
          w.Null();
        } else {
          w.Bulk(popped[0]);
        }
        return;
      }
      w.Set(static_cast<int64_t>(popped.size()));
      for (std::string_view m : popped) w.Bulk(m);
      return;
    }
    case CommandId::kSIsMember:
    case CommandId::kSCard:
    case CommandId::kSMembers:
    case CommandId::kSMIsMember:
    case CommandId::kSRandMember:
    case CommandId::kSScan: {
      const std::vector<ElementView> members = LiveElements(answer, &body);
      if (slot.command == CommandId::kSCard) {
        w.Integer(static_cast<int64_t>(members.size()));
      } else if (slot.command == CommandId::kSIsMember) {
        w.Integer(answer.live && FindLive(body, slot.parts[0]) != nullptr ? 1 : 0);
      } else if (slot.command == CommandId::kSMIsMember) {
        w.Array(static_cast<int64_t>(slot.parts.size()));
        for (const std::string& m : slot.parts) {
          w.Integer(answer.live && FindLive(body, m) != nullptr ? 1 : 0);
        }
      } else if (slot.command == CommandId::kSMembers) {
        w.Set(static_cast<int64_t>(members.size()));
        for (const ElementView& e : members) w.Bulk(e.name);
      } else if (slot.command == CommandId::kSRandMember) {
        if (!(slot.variant & kReplyRandCount)) {
          if (members.empty()) {
            w.Null();
          } else {
            std::uniform_int_distribution<size_t> pick(0, members.size() - 1);
            w.Bulk(members[pick(rng)].name);
          }
        } else {
          RandomFields(w, members, slot.extra[0], false, rng);
        }
      } else {
        ScanPage(w, slot, answer, members, false);
      }
      return;
    }
    case CommandId::kHMSet:
      w.Ok();
      return;
    case CommandId::kHIncrByFloat:
      w.Bulk(answer.value);
      return;
    case CommandId::kHGet:
    case CommandId::kHStrLen:
    case CommandId::kHExists: {
      const ElementView* e = nullptr;
      if (answer.live && typed::DecodeElements(answer.value, &body)) {
        e = FindLive(body, slot.parts[0]);
      }
      if (slot.command == CommandId::kHExists) {
        w.Integer(e != nullptr ? 1 : 0);
      } else if (slot.command == CommandId::kHStrLen) {
        w.Integer(e != nullptr ? static_cast<int64_t>(typed::RenderElement(*e).size()) : 0);
      } else if (e != nullptr) {
        w.Bulk(typed::RenderElement(*e));
      } else {
        w.Null();
      }
      return;
    }
    case CommandId::kHMGet: {
      const bool ok = answer.live && typed::DecodeElements(answer.value, &body);
      w.Array(static_cast<int64_t>(slot.parts.size()));
      for (const std::string& field : slot.parts) {
        const ElementView* e = ok ? FindLive(body, field) : nullptr;
        if (e != nullptr) {
          w.Bulk(typed::RenderElement(*e));
        } else {
          w.Null();
        }
      }
      return;
    }
    case CommandId::kHLen:
      w.Integer(static_cast<int64_t>(LiveElements(answer, &body).size()));
      return;
    case CommandId::kHGetAll:
    case CommandId::kHKeys:
    case CommandId::kHVals: {
      const std::vector<ElementView> fields = LiveElements(answer, &body);
      const auto n = static_cast<int64_t>(fields.size());
      if (slot.command == CommandId::kHGetAll) {
        w.Map(n);
      } else {
        w.Array(n);
      }
      for (const ElementView& e : fields) {
        if (slot.command != CommandId::kHVals) w.Bulk(e.name);
        if (slot.command != CommandId::kHKeys) w.Bulk(typed::RenderElement(e));
      }
      return;
    }
    case CommandId::kHRandField: {
      const std::vector<ElementView> fields = LiveElements(answer, &body);
      if (!(slot.variant & kReplyRandCount)) {
        if (fields.empty()) {
          w.Null();
        } else {
          std::uniform_int_distribution<size_t> pick(0, fields.size() - 1);
          w.Bulk(fields[pick(rng)].name);
        }
        return;
      }
      RandomFields(w, fields, slot.extra[0], slot.variant & kReplyWithValues, rng);
      return;
    }
    case CommandId::kHScan:
      ScanPage(w, slot, answer, LiveElements(answer, &body), true);
      return;
    default:
      return;
  }
}

}  // namespace shoal::proxy
