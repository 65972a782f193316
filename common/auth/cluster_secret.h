#pragma once

// Loading the cluster secret (`--cluster-secret-file`) shared by nodes, proxies and shoalctl.
//
// The file holds the secret as bytes; trailing newlines and carriage returns are dropped (so that
// `echo secret > file` works), nothing else is. Errors name the file and say what is wrong: it
// cannot be read (missing, a directory, no permission; pipes such as <(echo ...) are fine), it is
// empty (after the newline), or it is larger than kMaxClusterSecretBytes (probably the wrong file).

#include <cstddef>
#include <string>

#include "common/status/status.h"

namespace shoal::auth {

inline constexpr size_t kMaxClusterSecretBytes = 4096;

StatusOr<std::string> LoadClusterSecret(const std::string& path);

}  // namespace shoal::auth
