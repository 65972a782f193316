#include "proxy/quorum/element_mutation.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "common/typed/counter.h"

namespace shoal::proxy {

namespace {

using typed::ElementKind;
using typed::ElementView;

bool Live(const typed::ElementsView* held, std::string_view name) {
  if (held == nullptr) return false;
  const ElementView* e = held->Find(name);
  return e != nullptr && e->live();
}

size_t LiveCount(const typed::ElementsView* held) {
  return held == nullptr ? 0 : held->LiveCount();
}

// Checks the limits for a write adding `added` live elements and about `added_bytes` bytes.
bool WithinLimits(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
                  size_t added, size_t added_bytes, ElementOutcome* out) {
  const uint64_t elements = LiveCount(held) + added;
  if (in.max_elements != 0 && added > 0 && elements > in.max_elements) {
    out->limit_error = "ERR the key would hold " + std::to_string(elements) +
                       " elements, more than the proxy's --max-elements-per-key (" +
                       std::to_string(in.max_elements) + ")";
    return false;
  }
  const uint64_t bytes = held_bytes + added_bytes;
  if (in.max_bytes != 0 && added_bytes > 0 && bytes > in.max_bytes) {
    out->limit_error = "ERR the key would take " + std::to_string(bytes) +
                       " bytes, more than the proxy's --max-bytes-per-key (" +
                       std::to_string(in.max_bytes) + ")";
    return false;
  }
  return true;
}

void Finish(std::map<std::string_view, ElementView>& changes, ElementOutcome* out) {
  std::vector<ElementView> elements;
  elements.reserve(changes.size());
  for (auto& [name, e] : changes) elements.push_back(e);
  out->delta = typed::EncodeElements(elements);
  out->write = !elements.empty();
}

void HSet(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
          const Version& ev, ElementOutcome* out) {
  std::map<std::string_view, ElementView> changes;
  for (size_t i = 0; i + 1 < in.args.size(); i += 2) {
    changes[in.args[i]] = ElementView{in.args[i], ev, ElementKind::kValue, in.args[i + 1]};
  }
  if (in.op == ElementOp::kHSetNx && Live(held, in.args[0])) return;  // integer 0, no write
  size_t added = 0, added_bytes = 0;
  for (const auto& [name, e] : changes) {
    const ElementView* old = held == nullptr ? nullptr : held->Find(name);
    if (old == nullptr || !old->live()) ++added;
    added_bytes += e.value.size() + (old == nullptr ? typed::kElementOverhead + name.size() : 0);
    if (old != nullptr) added_bytes -= std::min(added_bytes, old->value.size());
  }
  if (!WithinLimits(in, held, held_bytes, added, added_bytes, out)) return;
  out->integer = in.op == ElementOp::kHSetNx ? 1 : static_cast<int64_t>(added);
  Finish(changes, out);
}

void Remove(const ElementInput& in, const typed::ElementsView* held, const Version& ev,
            ElementOutcome* out) {
  std::map<std::string_view, ElementView> changes;
  for (const std::string& name : in.args) {
    if (Live(held, name)) changes[name] = ElementView{name, ev, ElementKind::kTombstone, {}};
  }
  out->integer = static_cast<int64_t>(changes.size());
  Finish(changes, out);
}

void SAdd(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
          const Version& ev, ElementOutcome* out) {
  std::map<std::string_view, ElementView> changes;
  size_t added_bytes = 0;
  for (const std::string& name : in.args) {
    if (Live(held, name) || changes.count(name) != 0) continue;
    changes[name] = ElementView{name, ev, ElementKind::kValue, {}};
    if (held == nullptr || held->Find(name) == nullptr) {
      added_bytes += typed::kElementOverhead + name.size();
    }
  }
  if (!WithinLimits(in, held, held_bytes, changes.size(), added_bytes, out)) return;
  out->integer = static_cast<int64_t>(changes.size());
  Finish(changes, out);
}

void SPop(const ElementInput& in, const typed::ElementsView* held, const Version& ev,
          ElementOutcome* out) {
  std::vector<const ElementView*> live;
  if (held != nullptr) {
    for (const ElementView& e : held->elements) {
      if (e.live()) live.push_back(&e);
    }
  }
  std::mt19937_64 rng(in.seed);
  const size_t n =
      std::min<size_t>(live.size(), static_cast<size_t>(std::max<int64_t>(in.count, 0)));
  // A partial Fisher-Yates shuffle: the first n are the chosen ones.
  for (size_t i = 0; i < n; ++i) {
    std::uniform_int_distribution<size_t> pick(i, live.size() - 1);
    std::swap(live[i], live[pick(rng)]);
  }
  std::map<std::string_view, ElementView> changes;
  for (size_t i = 0; i < n; ++i) {
    changes[live[i]->name] = ElementView{live[i]->name, ev, ElementKind::kTombstone, {}};
    AppendListItem(out->text, live[i]->name);
  }
  out->integer = static_cast<int64_t>(n);
  Finish(changes, out);
}

// HINCRBY / HINCRBYFLOAT: the field is a PN-counter (counter.h) at the field version it builds on:
// a live value's (the value as its base), a counter's, or one derived from a removed field's
// tombstone or, for a field the body does not hold, from its floor (typed::DerivedVersion; zero's
// for a body never purged), so that concurrent
// increments through other proxies merge per writer and an HSET (a newer field version) or HDEL
// supersedes them all.
void HIncr(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
           const Version& ev, ElementOutcome* out) {
  const std::string& name = in.args[0];
  const ElementView* old = held == nullptr ? nullptr : held->Find(name);
  typed::Counter counter;
  Version field_version;
  if (old != nullptr && old->kind == ElementKind::kCounter) {
    if (!typed::Counter::Decode(old->value, &counter)) counter = typed::Counter{};
    field_version = old->version;
  } else if (old != nullptr && old->kind == ElementKind::kValue) {
    const bool integer = in.op == ElementOp::kHIncrBy;
    int64_t i;
    long double d;
    if (integer ? !typed::ParseRedisInteger(old->value, &i)
                : !typed::ParseRedisLongDouble(old->value, &d)) {
      out->error = integer ? "ERR hash value is not an integer" : "ERR hash value is not a float";
      return;
    }
    counter.base.assign(old->value);
    field_version = old->version;
  } else {
    // A removed field's tombstone, or (none held) the body's floor: every tombstone purged from
    // it is at or below the floor, which a field version at or below it would lose to.
    const Version base = old != nullptr ? old->version : held != nullptr ? held->floor : Version{};
    field_version = typed::DerivedVersion(base, base);
  }
  typed::CounterError err;
  if (in.op == ElementOp::kHIncrBy) {
    err = typed::IncrementBy(counter, in.counter_writer, ev, in.by, &out->integer);
  } else {
    err = typed::IncrementByFloat(counter, in.counter_writer, ev, in.by_float, &out->text);
  }
  switch (err) {
    case typed::CounterError::kNone:
      break;
    case typed::CounterError::kNotInteger:
      out->error = "ERR hash value is not an integer";
      return;
    case typed::CounterError::kNotFloat:
      out->error = "ERR hash value is not a float";
      return;
    default:
      out->error = typed::CounterErrorText(err);
      return;
  }
  typed::Counter delta;
  delta.base = counter.base;
  delta.components.push_back(counter.ComponentOf(in.counter_writer));
  const std::string body = delta.Encode();
  const bool added = old == nullptr || !old->live();
  const size_t added_bytes =
      body.size() + (old == nullptr ? typed::kElementOverhead + name.size() : 0);
  if (!WithinLimits(in, held, held_bytes, added ? 1 : 0, added_bytes, out)) return;
  std::map<std::string_view, ElementView> changes;
  changes[name] = ElementView{name, field_version, ElementKind::kCounter, body};
  Finish(changes, out);
}

}  // namespace

void MutateElements(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
                    const Version& element_version, ElementOutcome* out) {
  *out = ElementOutcome{};
  switch (in.op) {
    case ElementOp::kHSet:
    case ElementOp::kHSetNx:
      return HSet(in, held, held_bytes, element_version, out);
    case ElementOp::kHDel:
    case ElementOp::kSRem:
      return Remove(in, held, element_version, out);
    case ElementOp::kHIncrBy:
    case ElementOp::kHIncrByFloat:
      return HIncr(in, held, held_bytes, element_version, out);
    case ElementOp::kSAdd:
      return SAdd(in, held, held_bytes, element_version, out);
    case ElementOp::kSPop:
      return SPop(in, held, element_version, out);
    case ElementOp::kNone:
      return;
  }
}

void AppendListItem(std::string& out, std::string_view item) {
  const uint32_t n = static_cast<uint32_t>(item.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
  out.append(item);
}

}  // namespace shoal::proxy
