#include "node/store/shard_store.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

#include "common/hash/key_hash.h"
#include "common/typed/elements.h"
#include "node/store/entry.h"
#include "node/store/entry_table.h"
#include "node/store/lru_list.h"

namespace shoal::node {

// kEntryOverhead, derived. An entry is one malloc block of sizeof(Entry) + key + value bytes.
// glibc hands out chunks of max(32, round_up(request + 8, 16)) bytes: 8 bytes of chunk header and
// up to 15 of rounding. The hash table holds at most two bucket pointers per entry while it grows,
// its incremental resizes included (see entry_table.h; ExpireSome gives buckets back after mass
// removals). The LRU links live in the header. Worst case: 96 + 8 + 15 + 16 = 135 bytes on top of
// key and value.
// Not counted: page rounding of values large enough for malloc to mmap (>= 128 KiB by default,
// under 3%), the evicted-version floor (fixed per shard, see shard_store.h) and the fixed cost of
// an empty store.
static_assert(ShardStore::kEntryOverhead >=
              sizeof(Entry) + 8 + 15 + EntryTable::kMaxSlotsPerEntryWhileGrowing * sizeof(Entry*));

namespace {

constexpr uint64_t kMaxFieldSize = std::numeric_limits<uint32_t>::max();

// Tombstones may hold up to 1/4 of the memory limit before they are evicted ahead of values.
constexpr uint64_t kTombstoneBudgetDivisor = 4;

// The evicted-version floor: one bucket per this many bytes of the memory limit, within bounds.
constexpr uint64_t kFloorBytesPerBucket = 4096;
constexpr size_t kMinFloorBuckets = 256;
constexpr size_t kMaxFloorBuckets = 65536;

// A key's state order (docs/replication.md): (version, expiry_version), lexicographically.
struct StatePair {
  Version version;
  Version expiry;
  auto operator<=>(const StatePair&) const = default;
  bool IsZero() const { return version.IsZero() && expiry.IsZero(); }
};

static_assert(sizeof(StatePair) == ShardStore::kFloorBucketBytes);

StatePair PairOf(const Entry* e) { return {e->version(), e->expiry_version()}; }

typed::ValueType TypeOf(const Entry* e) { return static_cast<typed::ValueType>(e->type()); }

KeyState StateOf(const Entry* e) {
  KeyState state;
  state.present = true;
  state.tombstone = e->tombstone();
  state.version = e->version();
  state.expiry_version = e->expiry_version();
  if (!e->tombstone()) state.body_digest = typed::BodyDigest(TypeOf(e), e->value());
  return state;
}

// The two hashes of a key (see entry.h): the ring's tag-aware KeyHash, and a hash of the whole key
// for the table (the same one when the key has no hash tag).
struct KeyHashes {
  uint64_t ring;
  uint32_t table;
};
KeyHashes HashKey(std::string_view key) {
  const std::string_view tag = HashTagOf(key);
  const uint64_t ring = Hash64(tag);
  return {ring, static_cast<uint32_t>(tag.size() == key.size() ? ring : Hash64(key))};
}

size_t FloorBuckets(uint64_t limit) {
  const uint64_t wanted = std::bit_floor(std::max<uint64_t>(limit / kFloorBytesPerBucket, 1));
  return static_cast<size_t>(std::clamp<uint64_t>(wanted, kMinFloorBuckets, kMaxFloorBuckets));
}

uint64_t Charge(uint64_t key_size, uint64_t value_size) {
  return key_size + value_size + ShardStore::kEntryOverhead;
}
uint64_t Charge(const Entry* e) { return Charge(e->key_size, e->value_size); }

// memcpy/memmove with a null pointer is undefined even for 0 bytes (an empty string_view).
void CopyBytes(char* to, const char* from, size_t n) {
  if (n != 0) std::memmove(to, from, n);
}

// Single writer: a relaxed load and store, no read-modify-write instruction.
void Add(metrics::Counter& counter, uint64_t delta) { counter.Inc(delta); }
void Add(metrics::Gauge& gauge, uint64_t delta) { gauge.Add(static_cast<int64_t>(delta)); }
void Sub(metrics::Gauge& gauge, uint64_t delta) { gauge.Add(-static_cast<int64_t>(delta)); }

// a + b for b >= 0, capped at the largest int64_t instead of overflowing (a grace so long that
// the deadline cannot be represented means "never purged").
int64_t SaturatingAdd(int64_t a, int64_t b) {
  assert(b >= 0);
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// Reads the clock at most once per reading per call, and only when an entry needs it.
class LazyNow {
 public:
  explicit LazyNow(const Clock& clock) : clock_(clock) {}
  int64_t wall() {
    if (wall_ == kUnread) wall_ = clock_.NowMs();
    return wall_;
  }
  int64_t monotonic() {
    if (monotonic_ == kUnread) monotonic_ = clock_.MonotonicMs();
    return monotonic_;
  }

 private:
  static constexpr int64_t kUnread = std::numeric_limits<int64_t>::min();
  const Clock& clock_;
  int64_t wall_ = kUnread;
  int64_t monotonic_ = kUnread;
};

}  // namespace

struct ShardStore::Impl {
  // Why an entry is removed without a successor (each raises the evicted-version floor).
  enum class Removal : unsigned char {
    kPurge,            // a tombstone past its grace period
    kExpiredEviction,  // an expired value met by eviction (counted as an expiration)
    kEviction,         // a live value or a tombstone within its grace, for memory
    kFlush,            // older than the flush marker
  };

  Impl(uint64_t limit, int64_t grace_ms, ShardStats& stats)
      : limit(limit),
        tombstone_budget(limit / kTombstoneBudgetDivisor),
        grace_ms(grace_ms),
        element_grace_ms(grace_ms),
        stats(stats),
        floor_shift(64 - std::countr_zero(FloorBuckets(limit))),
        floor(std::make_unique<StatePair[]>(FloorBuckets(limit))) {}

  ~Impl() {
    for (LruList* list : {&values, &tombstones, &expiry_tombstones}) {
      while (Entry* e = list->back()) {
        list->Remove(e);
        FreeEntry(e);
      }
    }
  }

  LruList& ListOf(const Entry* e) {
    if (!e->tombstone()) return values;
    return e->from_expiry() ? expiry_tombstones : tombstones;
  }

  // The tombstone purged next (the earliest deadline): both lists are in write order.
  Entry* OldestTombstone() {
    Entry* a = tombstones.back();
    Entry* b = expiry_tombstones.back();
    if (a == nullptr) return b;
    if (b == nullptr) return a;
    return a->deadline_ms <= b->deadline_ms ? a : b;
  }

  bool IsDead(const Entry* e, LazyNow& now) {
    if (e->tombstone()) return now.monotonic() >= e->deadline_ms;
    return e->deadline_ms != 0 && now.wall() >= e->deadline_ms;
  }

  void NoteHlc(uint64_t hlc) {
    if (hlc > stats.max_hlc.load(std::memory_order_relaxed)) {
      stats.max_hlc.store(hlc, std::memory_order_relaxed);
    }
  }

  void PublishMemory() { stats.memory_used.Set(static_cast<int64_t>(memory_used)); }

  // ---- the evicted-version floor ----
  StatePair& FloorOf(uint64_t key_hash) {
    // Fibonacci hashing: the top bits of the product spread any key_hash pattern.
    return floor[(key_hash * 0x9E3779B97F4A7C15ull) >> floor_shift];
  }
  void RaiseFloor(const Entry* e) {
    StatePair& f = FloorOf(e->key_hash);
    f = std::max(f, PairOf(e));
  }

  void Notify(const Entry* e, const KeyState& before, const KeyState& after, ChangeCause cause) {
    if (observer != nullptr) observer->OnChange(e->key_hash, e->key(), before, after, cause);
  }

  void Account(const Entry* e) {
    memory_used += Charge(e);
    Add(stats.keys, 1);
    if (e->tombstone()) {
      tombstone_memory += Charge(e);
      Add(stats.tombstones, 1);
    }
    if (e->empty_aggregate()) Add(stats.empty_aggregates, 1);
  }
  void Unaccount(const Entry* e) {
    memory_used -= Charge(e);
    Sub(stats.keys, 1);
    if (e->tombstone()) {
      tombstone_memory -= Charge(e);
      Sub(stats.tombstones, 1);
    }
    if (e->empty_aggregate()) Sub(stats.empty_aggregates, 1);
  }

  // Counts the end of an entry that is dead (expired value or tombstone past its grace).
  void CountDead(const Entry* e) {
    Add(e->tombstone() ? stats.tombstones_purged : stats.expirations, 1);
  }

  // Unlinks, counts and frees `e`, raising its bucket's floor to its pair. Callers publish
  // memory_used when done.
  void Remove(Entry* e, Removal why) {
    table.Remove(e);
    ListOf(e).Remove(e);
    Unaccount(e);
    RaiseFloor(e);
    switch (why) {
      case Removal::kPurge:
      case Removal::kExpiredEviction:
        CountDead(e);
        break;
      case Removal::kEviction:
        Add(stats.evictions, 1);
        if (e->tombstone()) Add(stats.tombstones_evicted, 1);
        break;
      case Removal::kFlush:
        Add(stats.flushed, 1);
        break;
    }
    Notify(e, StateOf(e), KeyState{},
           why == Removal::kPurge   ? ChangeCause::kPurge
           : why == Removal::kFlush ? ChangeCause::kFlush
                                    : ChangeCause::kEviction);
    FreeEntry(e);
  }

  // An expired value becomes a tombstone that keeps its pair for the grace period, so that an
  // older value a repair or a hint brings later cannot come back (expired entries are dead
  // everywhere: a replica that missed the newer write must not win once it expires). Counted as
  // an expiration. Returns the tombstone (which may be a new block: `e` is gone).
  Entry* Entomb(Entry* e, LazyNow& now) {
    Add(stats.expirations, 1);
    PutRequest tomb;
    tomb.key = e->key();  // Write copies the key from `e` before freeing it
    tomb.tombstone = true;
    return Write(e, tomb, PairOf(e), e->key_hash, e->hash, TombstoneDeadline(now),
                 /*from_expiry=*/true, ChangeCause::kExpiry);
  }

  // Element tombstones below this version are purged (elements.h PurgeElements): those written
  // more than the element grace ago on the wall clock.
  Version ElementHorizon(LazyNow& now) const {
    const int64_t ms = now.wall() - element_grace_ms;
    return Version{ms <= 0 ? 0 : HlcFromParts(static_cast<uint64_t>(ms), 0), 0};
  }

  // Purges the element tombstones of a live hash or set past the element grace: rewrites its body
  // (same pair and expiry; reported as a purge). Returns the entry (possibly a new block).
  Entry* PurgeElements(Entry* e, LazyNow& now) {
    std::string purged;
    if (!e->element_tombstones() ||
        !typed::PurgeElements(e->value(), ElementHorizon(now), &purged)) {
      return e;
    }
    PutRequest write;
    write.key = e->key();  // Write copies the key before it frees `e`
    write.value = purged;
    write.value_type = TypeOf(e);
    Add(stats.element_purges, 1);
    return Write(e, write, PairOf(e), e->key_hash, e->hash, e->deadline_ms, false,
                 ChangeCause::kPurge);
  }

  // When a tombstone written now is purged (monotonic ms).
  int64_t TombstoneDeadline(LazyNow& now) { return SaturatingAdd(now.monotonic(), grace_ms); }

  // The entry held under `key`: a live value, a tombstone (an expired value is turned into one),
  // or nullptr (a tombstone past its grace period is removed).
  Entry* FindAlive(std::string_view key, LazyNow& now) {
    Entry* e = table.Find(key, HashKey(key).table);
    if (e == nullptr || !IsDead(e, now)) return e;
    if (!e->tombstone()) {
      Entry* tomb = Entomb(e, now);
      PublishMemory();
      return tomb;
    }
    Remove(e, Removal::kPurge);
    PublishMemory();
    return nullptr;
  }

  // The next entry to evict, never `keep`. While tombstones hold more than their budget:
  // tombstones first; otherwise the least recently used live value first. Among tombstones,
  // expired values' tombstones (oldest first) before deletes' (oldest first).
  Entry* PickVictim(const Entry* keep) {
    LruList* order[3] = {&values, &expiry_tombstones, &tombstones};
    if (tombstone_memory > tombstone_budget) std::rotate(order, order + 1, order + 3);
    for (LruList* list : order) {
      Entry* victim = list->back();
      if (victim == keep) victim = LruList::Newer(victim);
      if (victim != nullptr) return victim;
    }
    return nullptr;
  }

  void EvictToLimit(const Entry* keep, LazyNow& now) {
    while (memory_used > limit) {
      Entry* victim = PickVictim(keep);
      assert(victim != nullptr && "an entry within the limit cannot need more than everything");
      Removal why = Removal::kEviction;
      if (IsDead(victim, now)) {
        // An expired value at the LRU end is an expiry, not a loss (the floor keeps its pair).
        why = victim->tombstone() ? Removal::kPurge : Removal::kExpiredEviction;
      }
      Remove(victim, why);
    }
  }

  // One step of active expiry (see ShardStore::ExpireSome); publishes memory_used.
  ExpireCycleResult ExpireStep(size_t budget, LazyNow& now);

  // Stores the request's key and value (none for a tombstone) with state `pair`, over `held`
  // (same key, dead or alive) if not null, and reports the change. Copies key and value before
  // freeing anything, so they may point into this store.
  Entry* Write(Entry* held, const PutRequest& request, const StatePair& pair, uint64_t key_hash,
               uint32_t hash, int64_t deadline_ms, bool from_expiry, ChangeCause cause) {
    const KeyState before = held != nullptr ? StateOf(held) : KeyState{};
    const uint32_t value_size = request.tombstone ? 0 : static_cast<uint32_t>(request.value.size());
    const size_t block = Entry::BlockSize(request.key.size(), value_size);
    Entry* e;
    if (held != nullptr) {
      ListOf(held).Remove(held);
      Unaccount(held);
      const size_t capacity = EntryCapacity(held);
      if (capacity >= block && capacity - block < 16) {
        e = held;  // the same malloc size class: rewrite in place
        CopyBytes(e->value_data(), request.value.data(), value_size);
      } else {
        e = AllocateEntry(block);
        std::memcpy(static_cast<void*>(e), held, sizeof(Entry) + held->key_size);
        e->value_size = value_size;
        CopyBytes(e->value_data(), request.value.data(), value_size);
        table.Replace(held, e);
        FreeEntry(held);
      }
    } else {
      e = AllocateEntry(block);
      e->hash = hash;
      e->key_hash = key_hash;
      e->key_size = static_cast<uint32_t>(request.key.size());
      CopyBytes(e->key_data(), request.key.data(), request.key.size());
      CopyBytes(e->value_data(), request.value.data(), value_size);
      table.Insert(e);
    }
    e->hlc = pair.version.hlc;
    e->writer = pair.version.writer;
    e->expiry_hlc = pair.expiry.hlc;
    e->expiry_writer = pair.expiry.writer;
    e->deadline_ms = deadline_ms;
    e->value_size = value_size;
    e->flags =
        request.tombstone
            ? (from_expiry ? Entry::kTombstone | Entry::kFromExpiry : Entry::kTombstone)
            : static_cast<uint8_t>(static_cast<uint8_t>(request.value_type) << Entry::kTypeShift);
    if (!request.tombstone && (request.value_type == typed::ValueType::kHash ||
                               request.value_type == typed::ValueType::kSet)) {
      const typed::ElementKinds kinds = typed::KindsOf(e->value());
      if (!kinds.live) e->flags |= Entry::kEmptyAggregate;
      if (kinds.tombstone) e->flags |= Entry::kElementTombstones;
    }
    ListOf(e).PushFront(e);
    Account(e);
    Notify(e, before, StateOf(e), cause);
    return e;
  }

  // A live typed value (or the string it builds on) written again at its own version: the bodies
  // merge (typed::MergeValues) and the greater expiry_version's expiry is kept. Idempotent: a body
  // already contained changes nothing and still reports applied (the held state includes it).
  PutResult MergePut(const PutRequest& request, Entry* held, const KeyHashes& hashes,
                     PutResult& result, LazyNow& now) {
    typed::ValueType type;
    std::string merged;
    if (!typed::MergeValues(TypeOf(held), held->value(), request.value_type, request.value, &type,
                            &merged)) {
      result.status = ApplyStatus::kStale;  // an undecodable body (the executor validates them)
      Add(stats.stale_writes, 1);
      return result;
    }
    if (type == typed::ValueType::kHash || type == typed::ValueType::kSet) {
      std::string purged;
      if (typed::PurgeElements(merged, ElementHorizon(now), &purged)) merged = std::move(purged);
    }
    const Version request_expiry = std::max(request.version, request.expiry_version);
    const bool newer_expiry = request_expiry > held->expiry_version();
    StatePair pair = PairOf(held);
    int64_t deadline_ms = held->deadline_ms;
    if (newer_expiry) {
      pair.expiry = request_expiry;
      deadline_ms = request.expire_at_ms;
    }
    result.current = pair.version;
    result.current_expiry_version = pair.expiry;
    if (!newer_expiry && type == TypeOf(held) && merged == held->value()) {
      values.Refresh(held);
      return result;  // already held
    }
    if (Charge(held->key_size, merged.size()) > limit / ShardStore::kMaxEntryDivisor) {
      result.status = ApplyStatus::kTooLarge;
      return result;
    }
    PutRequest write;
    write.key = held->key();  // Write copies the key before it frees `held`
    write.value = merged;
    write.value_type = type;
    bool dead_on_arrival = false;
    if (deadline_ms != 0 && deadline_ms <= now.wall()) {
      write.tombstone = true;
      write.value = {};
      write.value_type = typed::ValueType::kString;
      deadline_ms = TombstoneDeadline(now);
      dead_on_arrival = true;
      Add(stats.expirations, 1);
    }
    Entry* e = Write(held, write, pair, hashes.ring, hashes.table, deadline_ms, dead_on_arrival,
                     ChangeCause::kPut);
    EvictToLimit(e, now);
    PublishMemory();
    return result;
  }

  const uint64_t limit;
  // Tombstone bytes beyond this are evicted (oldest first) before any value.
  const uint64_t tombstone_budget;
  const int64_t grace_ms;
  int64_t element_grace_ms;
  ShardStats& stats;
  StoreObserver* observer = nullptr;

  EntryTable table;
  LruList values;             // live (or not yet removed dead) values, most recently used first
  LruList tombstones;         // deletes' tombstones, in write order, so in purge-deadline order
  LruList expiry_tombstones;  // expired values' tombstones, likewise
  uint64_t memory_used = 0;
  uint64_t tombstone_memory = 0;  // the part of memory_used charged for tombstones
  uint64_t expiry_cursor = 0;

  // The evicted-version floor: the greatest pair removed without a successor, per bucket of
  // key_hash (a power of two of buckets; the index is the top bits of a multiplicative hash).
  const int floor_shift;
  std::unique_ptr<StatePair[]> floor;
  // The flush marker's pair (M, M); zero: never flushed.
  StatePair flushed_below;
};

ShardStore::ShardStore(const Clock& clock, uint64_t memory_limit_bytes, int64_t tombstone_grace_ms)
    : clock_(clock),
      memory_limit_(memory_limit_bytes),
      tombstone_grace_ms_(tombstone_grace_ms < 0 ? 0 : tombstone_grace_ms),
      impl_(std::make_unique<Impl>(memory_limit_bytes, tombstone_grace_ms_, stats_)) {}

ShardStore::~ShardStore() = default;

void ShardStore::SetObserver(StoreObserver* observer) { impl_->observer = observer; }

void ShardStore::SetElementGrace(int64_t ms) { impl_->element_grace_ms = ms < 0 ? 0 : ms; }

void ShardStore::ReportHeld(StoreObserver& observer) const {
  const KeyState absent;
  uint64_t cursor = 0;
  do {
    impl_->table.VisitBucket(cursor, [&](const Entry* e) {
      observer.OnChange(e->key_hash, e->key(), absent, StateOf(e), ChangeCause::kPut);
    });
    cursor = impl_->table.NextCursor(cursor);
  } while (cursor != 0);
}

size_t ShardStore::floor_buckets() const { return FloorBuckets(memory_limit_); }

GetResult ShardStore::Get(std::string_view key) {
  LazyNow now(clock_);
  GetResult result;
  Entry* e = impl_->FindAlive(key, now);
  if (e == nullptr) {
    if (!impl_->flushed_below.IsZero()) {
      // Flushed: every key not held reads as a tombstone of the marker (see "Flush marker").
      result.found = true;
      result.tombstone = true;
      result.version = impl_->flushed_below.version;
      result.expiry_version = impl_->flushed_below.expiry;
      return result;
    }
    const StatePair& floor = impl_->FloorOf(HashKey(key).ring);
    result.floor_version = floor.version;
    result.floor_expiry_version = floor.expiry;
    return result;
  }
  result.found = true;
  result.version = e->version();
  result.expiry_version = e->expiry_version();
  if (e->tombstone()) {
    result.tombstone = true;
  } else {
    result.value = e->value();
    result.value_type = TypeOf(e);
    result.expire_at_ms = e->deadline_ms;
    impl_->values.Refresh(e);
  }
  return result;
}

PutResult ShardStore::Put(const PutRequest& request) {
  Impl& s = *impl_;
  const StatePair incoming{request.version, std::max(request.version, request.expiry_version)};
  s.NoteHlc(incoming.expiry.hlc);
  LazyNow now(clock_);
  PutResult result;

  const KeyHashes hashes = HashKey(request.key);
  Entry* held = s.table.Find(request.key, hashes.table);
  // A dead entry stays in place until the request is done with (the request's key or value may
  // point into it). A tombstone past its grace counts as gone (its pair as part of the floor); an
  // expired value counts as a tombstone of its pair (see Entomb).
  const bool held_dead = held != nullptr && s.IsDead(held, now);
  const bool held_expired = held_dead && !held->tombstone();
  const Entry* current = held_dead && !held_expired ? nullptr : held;
  const bool held_live = current != nullptr && !current->tombstone() && !held_expired;
  // A live value to Redis: an emptied hash or set is none (previous_found, NX/XX, KEEPTTL).
  const bool live = held_live && !current->empty_aggregate();
  result.previous_found = live;
  if (current != nullptr) {
    result.current = result.previous_version = current->version();
    result.current_expiry_version = result.previous_expiry_version = current->expiry_version();
  }
  if (live) {
    result.previous_expire_at_ms = current->deadline_ms;
    if (request.want_previous) result.previous_value.assign(current->value());
  }
  // What an absent key's write must beat: its bucket's floor (and a purgeable tombstone's pair).
  StatePair bar;
  const bool typed_in = request.value_type != typed::ValueType::kString && !request.tombstone;
  if (current == nullptr) {
    StatePair floor = s.FloorOf(hashes.ring);
    if (held_dead) floor = std::max(floor, PairOf(held));
    bar = std::max(floor, s.flushed_below);
    if (typed_in && incoming > s.flushed_below) {
      // A typed key created from nothing carries a derived version (typed::DerivedVersion), which
      // floors raised by other keys of the bucket would refuse for ever: its elements, written
      // after the floor's removals, are what must beat the floor.
      const Version newest = typed::NewestElement(request.value_type, request.value);
      if (StatePair{newest, newest} > floor) bar = s.flushed_below;
    }
  }
  if (held_live && !request.tombstone && current->version() == request.version &&
      (typed_in || current->type() != 0)) {
    return s.MergePut(request, held, hashes, result, now);
  }

  const uint64_t value_size = request.tombstone ? 0 : request.value.size();
  if (request.key.size() > kMaxFieldSize || value_size > kMaxFieldSize ||
      Charge(request.key.size(), value_size) > max_entry_bytes()) {
    result.status = ApplyStatus::kTooLarge;
  } else if (current != nullptr && incoming <= PairOf(current)) {
    result.status = ApplyStatus::kStale;
    Add(stats_.stale_writes, 1);
  } else if (current == nullptr && !bar.IsZero() && incoming <= bar) {
    result.status = ApplyStatus::kStale;
    result.current = bar.version;
    result.current_expiry_version = bar.expiry;
    Add(stats_.stale_writes, 1);
    Add(stats_.floor_refusals, 1);
  } else if ((request.condition == PutCondition::kIfAbsent && live) ||
             (request.condition == PutCondition::kIfPresent && !live) ||
             (request.has_if_version_at_most && current != nullptr &&
              current->version() > request.if_version_at_most)) {
    result.status = ApplyStatus::kConditionFailed;
  }
  if (result.status != ApplyStatus::kApplied) {
    if (held_expired) {
      s.Entomb(held, now);
      s.PublishMemory();
    } else if (held_dead) {
      s.Remove(held, Impl::Removal::kPurge);
      s.PublishMemory();
    }
    return result;
  }

  result.current = incoming.version;
  result.current_expiry_version = incoming.expiry;
  const PutRequest* write = &request;
  PutRequest tomb;
  int64_t deadline_ms;
  bool dead_on_arrival = false;
  if (request.tombstone) {
    deadline_ms = s.TombstoneDeadline(now);
  } else {
    deadline_ms = request.keep_ttl && live ? current->deadline_ms : request.expire_at_ms;
    if (deadline_ms != 0 && deadline_ms <= now.wall()) {
      // Newest, but dead on arrival: it is stored as a tombstone of its pair, which supersedes
      // whatever was held.
      tomb = request;
      tomb.tombstone = true;
      tomb.value = {};
      write = &tomb;
      deadline_ms = s.TombstoneDeadline(now);
      dead_on_arrival = true;
      Add(stats_.expirations, 1);
    }
  }
  if (held_dead) s.CountDead(held);
  Entry* e = s.Write(held, *write, incoming, hashes.ring, hashes.table, deadline_ms,
                     dead_on_arrival, ChangeCause::kPut);
  s.EvictToLimit(e, now);
  s.PublishMemory();
  return result;
}

namespace {

bool TouchConditionHolds(TouchCondition condition, int64_t held_expiry, int64_t new_expiry) {
  const bool has_expiry = held_expiry != 0;
  switch (condition) {
    case TouchCondition::kAlways:
      return true;
    case TouchCondition::kIfNoExpiry:
      return !has_expiry;
    case TouchCondition::kIfHasExpiry:
      return has_expiry;
    // No expiry is an infinite one: never less than the new one, always greater.
    case TouchCondition::kIfGreater:
      return has_expiry && new_expiry > held_expiry;
    case TouchCondition::kIfLess:
      return !has_expiry || new_expiry < held_expiry;
    case TouchCondition::kIfHasExpiryAndLess:
      return has_expiry && new_expiry < held_expiry;
  }
  return false;
}

}  // namespace

TouchResult ShardStore::Touch(std::string_view key, Version expiry_version, int64_t expire_at_ms,
                              bool want_value, TouchCondition condition) {
  Impl& s = *impl_;
  s.NoteHlc(expiry_version.hlc);
  LazyNow now(clock_);
  TouchResult result;
  Entry* e = s.FindAlive(key, now);
  if (e == nullptr) {
    if (!s.flushed_below.IsZero()) {  // a tombstone of the flush marker (see "Flush marker")
      result.tombstone = true;
      result.version = s.flushed_below.version;
      result.previous_expiry_version = s.flushed_below.expiry;
    }
    return result;
  }
  if (e->empty_aggregate()) return result;  // an emptied hash or set: no key to expire
  result.version = e->version();
  result.previous_expiry_version = e->expiry_version();
  if (e->tombstone()) {
    result.tombstone = true;
    return result;
  }
  result.found = true;
  result.previous_expire_at_ms = e->deadline_ms;
  if (expiry_version <= e->expiry_version()) {
    Add(stats_.stale_writes, 1);
  } else if (!TouchConditionHolds(condition, e->deadline_ms, expire_at_ms)) {
    result.condition_failed = true;
  } else {
    const KeyState before = StateOf(e);
    e->expiry_hlc = expiry_version.hlc;
    e->expiry_writer = expiry_version.writer;
    e->deadline_ms = expire_at_ms;
    result.applied = true;
    s.Notify(e, before, StateOf(e), ChangeCause::kTouch);
  }
  if (want_value) {
    result.value = e->value();
    result.value_type = TypeOf(e);
  }
  s.values.Refresh(e);
  return result;
}

FlushResult ShardStore::Flush(Version marker) {
  Impl& s = *impl_;
  FlushResult result;
  const StatePair bar{marker, marker};
  if (bar <= s.flushed_below) return result;
  s.flushed_below = bar;
  s.NoteHlc(marker.hlc);
  result.raised = true;
  for (LruList* list : {&s.values, &s.tombstones, &s.expiry_tombstones}) {
    Entry* e = list->back();
    while (e != nullptr) {
      Entry* newer = LruList::Newer(e);
      if (PairOf(e) < bar) {
        s.Remove(e, Impl::Removal::kFlush);
        ++result.removed;
      }
      e = newer;
    }
  }
  s.PublishMemory();
  return result;
}

Version ShardStore::flush_marker() const { return impl_->flushed_below.version; }

ExpireCycleResult ShardStore::Impl::ExpireStep(size_t budget, LazyNow& now) {
  ExpireCycleResult step;
  step.steps = 1;
  // Tombstones sit in write order, hence in deadline order: purge from the old end.
  while (step.examined < budget) {
    Entry* oldest = OldestTombstone();
    if (oldest == nullptr || !IsDead(oldest, now)) break;
    Remove(oldest, Removal::kPurge);
    ++step.examined;
    ++step.removed;
  }
  // Values (and any tombstone met on the way): resume the sweep of the buckets.
  while (step.examined < budget && table.size() > 0) {
    // VisitBucket reads an entry's successor before calling back, so the entry may be
    // replaced (entombed) or removed here.
    const size_t visited = table.VisitBucket(expiry_cursor, [&](Entry* e) {
      if (!IsDead(e, now)) {
        PurgeElements(e, now);
        return;
      }
      if (e->tombstone()) {
        Remove(e, Removal::kPurge);
      } else {
        Entomb(e, now);
      }
      ++step.removed;
    });
    step.examined += visited > 0 ? visited : 1;
    expiry_cursor = table.NextCursor(expiry_cursor);
    if (expiry_cursor == 0) break;  // a full pass ends here; the next call starts the next one
  }
  // Resizes are incremental: keep one in progress moving even when nothing is inserted, and give
  // buckets back after mass removals (the cursor survives both).
  table.MaybeShrink();
  table.RehashSome(budget);
  PublishMemory();
  return step;
}

size_t ShardStore::ExpireSome(size_t budget) {
  LazyNow now(clock_);
  return impl_->ExpireStep(budget, now).removed;
}

ExpireCycleResult ShardStore::ExpireCycleImpl(const ExpireCycleLimits& limits,
                                              bool (*out_of_time)(void*), void* fn) {
  Impl& s = *impl_;
  LazyNow now(clock_);  // one reading per cycle: it lasts about a millisecond
  const size_t floor = limits.full_pass_calls == 0 ? 0 : s.table.size() / limits.full_pass_calls;
  const size_t step_size = limits.step == 0 ? 1 : limits.step;
  ExpireCycleResult cycle;
  while (true) {
    const ExpireCycleResult step = s.ExpireStep(step_size, now);
    cycle.steps += 1;
    cycle.examined += step.examined;
    cycle.removed += step.removed;
    const bool many_dead = step.removed * 100 >= step.examined * uint64_t{limits.repeat_percent};
    if (step.examined == 0 || (!many_dead && cycle.examined >= floor)) break;
    if (out_of_time(fn)) break;
  }
  return cycle;
}

uint64_t ShardStore::ScanImpl(uint64_t lo, uint64_t hi, uint64_t cursor, size_t count,
                              void (*visit)(void*, const EntryView&), void* fn) const {
  Impl& s = *impl_;
  LazyNow now(clock_);
  size_t seen = 0;
  do {
    seen += s.table.VisitBucket(cursor, [&](const Entry* e) {
      if (e->key_hash < lo || e->key_hash > hi) return;
      const bool dead = s.IsDead(e, now);
      if (dead && e->tombstone()) return;  // past its grace: gone
      EntryView view;
      view.key = e->key();
      view.key_hash = e->key_hash;
      view.version = e->version();
      view.expiry_version = e->expiry_version();
      view.tombstone = e->tombstone() || dead;  // an expired value is a tombstone of its pair
      if (!view.tombstone) {
        view.value = e->value();
        view.value_type = TypeOf(e);
        view.expire_at_ms = e->deadline_ms;
        view.empty_aggregate = e->empty_aggregate();
      }
      visit(fn, view);
    });
    cursor = s.table.NextCursor(cursor);
  } while (cursor != 0 && seen < count);
  return cursor;
}

}  // namespace shoal::node
