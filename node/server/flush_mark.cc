#include "node/server/flush_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shoal::node {

std::string FlushFilePath(const std::string& data_dir) { return data_dir + "/flush"; }

Status FlushMark::Load() {
  if (path_.empty()) return Status::Ok();
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return Status::Ok();
    return Status::IOError("cannot read " + path_ + ": " + strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  unsigned long long hlc = 0, writer = 0;
  char extra = 0;
  if (std::sscanf(text.str().c_str(), "%llu %llu %c", &hlc, &writer, &extra) != 2) {
    return Status::Corruption(path_ + " does not hold a flush marker ('<hlc> <writer>')");
  }
  std::lock_guard<std::mutex> lock(mu_);
  marker_ = Version{hlc, writer};
  return Status::Ok();
}

Version FlushMark::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return marker_;
}

StatusOr<bool> FlushMark::Raise(Version marker) {
  std::lock_guard<std::mutex> lock(mu_);
  if (marker <= marker_) return false;
  if (!path_.empty()) {
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + strerror(errno));
    const std::string text =
        std::to_string(marker.hlc) + " " + std::to_string(marker.writer) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) return Status::IOError("cannot write " + tmp + ": " + strerror(err));
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      return Status::IOError("cannot rename " + tmp + ": " + strerror(errno));
    }
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
    const int dfd = ::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  marker_ = marker;
  return true;
}

}  // namespace shoal::node
