#pragma once

// Helpers for the hint unit tests: a temporary directory removed at the end, and hints.

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "node/hints/hint_record.h"

namespace shoal::node::hints {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "shoal-hints-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Hint MakeHint(std::string target, std::string key, uint64_t hlc, std::string value = "v",
                     int64_t expire_at_ms = 0) {
  Hint h;
  h.target = std::move(target);
  h.key = std::move(key);
  h.value = std::move(value);
  h.version = Version{hlc, 7};
  h.expiry_version = h.version;
  h.expire_at_ms = expire_at_ms;
  return h;
}

}  // namespace shoal::node::hints
