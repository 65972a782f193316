#pragma once

// FlushMark: the node's flush marker (FLUSHALL / FLUSHDB; docs/replication.md, "Flush"), a Version
// M such that every state older than (M, M) is flushed. It only grows. It is persisted in
// <data-dir>/flush before it is published, so that a node restarted after a flush still refuses
// anything older than it (a hint, a repair or an anti-entropy push of flushed data) even before it
// has talked to a peer. The file holds "<hlc> <writer>\n" in decimal and is replaced atomically
// (temporary file, fsync, rename, fsync of the directory), as <data-dir>/hlc is.
//
// Adopting a marker (AdoptFlushMark, node_flush.h) persists it here, then hands it to every shard's
// store (ShardStore::Flush) through their mailboxes.
//
// Thread rules: Load() before the threads start; Get() and Raise() from any thread (a mutex; Raise
// writes the file under it: rare, one fsync per flush).

#include <mutex>
#include <string>

#include "common/clock/hlc.h"
#include "common/status/status.h"

namespace shoal::node {

std::string FlushFilePath(const std::string& data_dir);

class FlushMark {
 public:
  // `path`: the file (empty: the marker is kept in memory only, as in unit tests).
  explicit FlushMark(std::string path) : path_(std::move(path)) {}

  // Reads the file: a missing file is "never flushed"; an unreadable or malformed one an error.
  Status Load();
  Version Get() const;
  // Raises the marker to `marker` if it is greater: written to the file first, then published.
  // Returns whether it grew (false: it was already at or above, nothing written).
  StatusOr<bool> Raise(Version marker);

 private:
  const std::string path_;
  mutable std::mutex mu_;
  Version marker_;
};

}  // namespace shoal::node
