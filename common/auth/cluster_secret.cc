#include "common/auth/cluster_secret.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shoal::auth {

StatusOr<std::string> LoadClusterSecret(const std::string& path) {
  const std::string what = "cluster secret file '" + path + "'";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot read " + what + ": " + std::strerror(errno));
  std::string secret;
  char chunk[1024];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IOError("cannot read " + what + ": " + std::strerror(err));
    }
    if (n == 0) break;
    secret.append(chunk, static_cast<size_t>(n));
    if (secret.size() > kMaxClusterSecretBytes + 2) break;
  }
  ::close(fd);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Status::InvalidArgument(what + " is empty");
  if (secret.size() > kMaxClusterSecretBytes) {
    return Status::InvalidArgument(what + " is longer than " +
                                   std::to_string(kMaxClusterSecretBytes) +
                                   " bytes (is it the right file?)");
  }
  return secret;
}

}  // namespace shoal::auth
