#pragma once

// The node's HLC high-water mark on disk (<data-dir>/hlc), so that its clock never goes back
// across a restart, even when the wall clock did (DESIGN: "nodes persist their HLC high-water
// mark"). The file holds one decimal uint64 and a newline; it is replaced atomically (write to a
// temporary file, fsync, rename, fsync the directory).
//
// The node writes it every second and at shutdown; at start-up it raises its clock to the value
// read. A crash can lose the last second's advances: the clock then restarts from the wall clock
// or the file, whichever is higher, which goes back only if the wall clock went back too.

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
