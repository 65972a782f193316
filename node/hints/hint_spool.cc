#include "node/hints/hint_spool.h"

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <unordered_set>

namespace shoal::node::hints {

namespace {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError(std::string(what) + ": " + s.ToString());
}

int64_t SecondOf(int64_t ms) { return ms >= 0 ? ms / 1000 : 0; }

}  // namespace

StatusOr<std::unique_ptr<HintSpool>> HintSpool::Open(const std::string& path, SpoolOptions options,
                                                     const Clock& clock) {
  std::unique_ptr<HintSpool> spool(new HintSpool(options, clock));
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_open_files = 64;  // the node's descriptors are for connections
  db_options.keep_log_file_num = 2;
  db_options.max_background_jobs = 1;
  db_options.write_buffer_size = 16 << 20;
  rocksdb::DB* db = nullptr;
  if (Status s = FromRocks(rocksdb::DB::Open(db_options, path, &db), "open hint spool " + path);
      !s.ok()) {
    return s;
  }
  spool->db_.reset(db);

  // Rebuild the accounting from the records.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::lock_guard<std::mutex> lock(spool->mu_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto hint = DecodeHint(std::string_view(it->key().data(), it->key().size()),
                           std::string_view(it->value().data(), it->value().size()));
    if (!hint.ok())
      return Status::Corruption("hint spool " + path + ": " + hint.status().message());
    spool->HoldLocked(*hint);
  }
  if (Status s = FromRocks(it->status(), "read hint spool " + path); !s.ok()) return s;
  return spool;
}

HintSpool::~HintSpool() {
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

const char* HintSpool::Admit(size_t bytes) {
  if (!enabled()) {
    return "hints are disabled on this node (--hint-window 0)";
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (held_bytes_ + reserved_bytes_ + bytes > options_.max_bytes) {
    return "hint spool full (--hint-max-bytes)";
  }
  reserved_bytes_ += bytes;
  return nullptr;
}

void HintSpool::Release(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  reserved_bytes_ -= std::min<uint64_t>(reserved_bytes_, bytes);
}

void HintSpool::HoldLocked(const Hint& hint) {
  TargetState& t = targets_[hint.target];
  ++t.count;
  t.bytes += hint.SpoolBytes();
  ++pending_;
  held_bytes_ += hint.SpoolBytes();
  ++stored_seconds_[SecondOf(hint.stored_ms)];
  if (hint.expire_at_ms != 0 && (min_expire_at_ms_ == 0 || hint.expire_at_ms < min_expire_at_ms_)) {
    min_expire_at_ms_ = hint.expire_at_ms;
  }
}

void HintSpool::ForgetLocked(const Hint& hint) {
  const uint64_t bytes = hint.SpoolBytes();
  if (auto t = targets_.find(hint.target); t != targets_.end()) {
    t->second.count -= std::min<uint64_t>(t->second.count, 1);
    t->second.bytes -= std::min(t->second.bytes, bytes);
    if (t->second.count == 0) targets_.erase(t);
  }
  pending_ -= std::min<uint64_t>(pending_, 1);
  held_bytes_ -= std::min(held_bytes_, bytes);
  if (auto s = stored_seconds_.find(SecondOf(hint.stored_ms)); s != stored_seconds_.end()) {
    if (--s->second == 0) stored_seconds_.erase(s);
  }
  if (pending_ == 0) min_expire_at_ms_ = 0;
}

Status HintSpool::Append(std::vector<Hint>& hints, SpoolCounters& counters) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  const int64_t now = clock_.NowMs();
  rocksdb::WriteBatch batch;
  std::vector<const Hint*> written;
  written.reserve(hints.size());
  uint64_t unused_reservation = 0;
  std::unordered_set<std::string> seen;
  std::string existing;
  for (Hint& h : hints) {
    h.stored_ms = now;
    std::string key = EncodeHintKey(h);
    // A hint sent twice (a proxy retrying) is held once.
    if (!seen.insert(key).second || db_->Get(rocksdb::ReadOptions(), key, &existing).ok()) {
      unused_reservation += h.SpoolBytes();
      continue;
    }
    batch.Put(key, EncodeHintValue(h));
    written.push_back(&h);
  }
  Status s = Status::Ok();
  if (batch.Count() > 0) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = FromRocks(db_->Write(sync, &batch), "write hint spool");
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t reservation = unused_reservation;
  for (const Hint* h : written) reservation += h->SpoolBytes();
  reserved_bytes_ -= std::min(reserved_bytes_, reservation);
  if (!s.ok()) return s;
  for (const Hint* h : written) HoldLocked(*h);
  counters.stored.Inc(written.size());
  return Status::Ok();
}

bool HintSpool::Expired(const Hint& hint, int64_t now_ms) const {
  if (hint.expire_at_ms != 0 && hint.expire_at_ms <= now_ms) return true;
  return options_.window_ms > 0 && now_ms - hint.stored_ms >= options_.window_ms;
}

StatusOr<std::vector<Hint>> HintSpool::Next(std::string_view target, std::string_view after,
                                            size_t max, SpoolCounters& counters) {
  const int64_t now = clock_.NowMs();
  std::string lower = TargetPrefix(target);
  std::string upper(target);
  upper.push_back('\x01');
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
  if (after.empty()) {
    it->Seek(lower);
  } else {
    it->Seek(rocksdb::Slice(after.data(), after.size()));
    if (it->Valid() && it->key() == rocksdb::Slice(after.data(), after.size())) it->Next();
  }
  std::vector<Hint> out;
  std::vector<Hint> expired;
  for (; it->Valid() && out.size() < max; it->Next()) {
    auto hint = DecodeHint(std::string_view(it->key().data(), it->key().size()),
                           std::string_view(it->value().data(), it->value().size()));
    if (!hint.ok()) return hint.status();
    if (Expired(*hint, now)) {
      expired.push_back(std::move(*hint));
    } else {
      out.push_back(std::move(*hint));
    }
  }
  if (Status s = FromRocks(it->status(), "read hint spool"); !s.ok()) return s;
  if (!expired.empty()) {
    if (Status s = Delete(expired, counters.expired); !s.ok()) return s;
  }
  return out;
}

Status HintSpool::Delete(const std::vector<Hint>& hints, metrics::Counter& counter,
                         uint64_t* deleted) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  rocksdb::WriteBatch batch;
  std::vector<const Hint*> held;
  held.reserve(hints.size());
  std::unordered_set<std::string> seen;
  std::string existing;
  for (const Hint& h : hints) {
    std::string key = EncodeHintKey(h);
    if (!db_->Get(rocksdb::ReadOptions(), key, &existing).ok() || !seen.insert(key).second) {
      continue;  // removed already
    }
    batch.Delete(key);
    held.push_back(&h);
  }
  if (held.empty()) return Status::Ok();
  if (Status s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "delete hints"); !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const Hint* h : held) ForgetLocked(*h);
  counter.Inc(held.size());
  if (deleted != nullptr) *deleted = held.size();
  return Status::Ok();
}

Status HintSpool::Remove(const std::vector<Hint>& delivered, SpoolCounters& counters) {
  if (delivered.empty()) return Status::Ok();
  return Delete(delivered, counters.replayed);
}

Status HintSpool::Drop(const Hint& hint, SpoolCounters& counters) {
  return Delete({hint}, counters.rejected);
}

StatusOr<uint64_t> HintSpool::Sweep(SpoolCounters& counters) {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool by_window = options_.window_ms > 0 && !stored_seconds_.empty() &&
                           now - stored_seconds_.begin()->first * 1000 >= options_.window_ms;
    const bool by_ttl = min_expire_at_ms_ != 0 && min_expire_at_ms_ <= now;
    if (!by_window && !by_ttl) return uint64_t{0};
  }
  std::vector<Hint> expired;
  int64_t min_expire = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto hint = DecodeHint(std::string_view(it->key().data(), it->key().size()),
                           std::string_view(it->value().data(), it->value().size()));
    if (!hint.ok()) return hint.status();
    if (Expired(*hint, now)) {
      expired.push_back(std::move(*hint));
    } else if (hint->expire_at_ms != 0 && (min_expire == 0 || hint->expire_at_ms < min_expire)) {
      min_expire = hint->expire_at_ms;
    }
  }
  if (Status s = FromRocks(it->status(), "read hint spool"); !s.ok()) return s;
  uint64_t dropped = 0;
  if (!expired.empty()) {
    if (Status s = Delete(expired, counters.expired, &dropped); !s.ok()) return s;
  }
  {
    // Hints appended during the scan only lower the bound further; keep the lower one.
    std::lock_guard<std::mutex> lock(mu_);
    if (min_expire_at_ms_ != 0 && min_expire_at_ms_ <= now) min_expire_at_ms_ = min_expire;
  }
  return dropped;  // those removed meanwhile (replayed, handed off) not counted
}

std::vector<std::string> HintSpool::Targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(targets_.size());
  for (const auto& [target, state] : targets_) out.push_back(target);
  return out;
}

uint64_t HintSpool::PendingFor(std::string_view target) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = targets_.find(target);
  return t == targets_.end() ? 0 : t->second.count;
}

SpoolStats HintSpool::Stats() const {
  SpoolStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.pending = pending_;
    s.pending_bytes = held_bytes_;
    if (!stored_seconds_.empty()) {
      s.oldest_age_ms =
          std::max<int64_t>(0, clock_.NowMs() - stored_seconds_.begin()->first * 1000);
    }
  }
  return s;
}

}  // namespace shoal::node::hints
