#pragma once

// The node's HLC high-water mark on disk (<data-dir>/hlc), so that its clock never goes back
// across a restart, even when the wall clock did (DESIGN: "nodes persist their HLC high-water
// mark"). The file holds one decimal uint64 and a newline; it is replaced atomically (write to a
// temporary file, fsync, rename, fsync the directory).
//
// While running, the file holds a ceiling persisted ahead of use (clock_ceiling.h): every
// version the node acknowledged is at or below it, even after kill -9. At a clean stop it holds
// the exact high-water mark. At start-up the node reports the value read as its max_hlc.

#include <cstdint>
#include <string>

#include "common/status/status.h"

namespace shoal::node {

// The path of the file inside a data directory.
std::string HlcFilePath(const std::string& data_dir);

// 0 when the file does not exist (a new data directory); an error when it exists but cannot be
// read or does not hold a number.
StatusOr<uint64_t> ReadHlcFile(const std::string& path);

Status WriteHlcFile(const std::string& path, uint64_t hlc);

}  // namespace shoal::node
