#include "node/store/entry.h"

#include <malloc.h>

#include <cstdio>
#include <new>

namespace shoal::node {

Entry* AllocateEntry(size_t bytes) {
  void* block = std::malloc(bytes);
  if (block == nullptr) {
    // Unrecoverable: the store cannot keep its contract without the memory it accounted for.
    std::fprintf(stderr, "shoal: out of memory allocating a %zu-byte store entry\n", bytes);
    std::abort();
  }
  return new (block) Entry;
}

void FreeEntry(Entry* entry) { std::free(entry); }

size_t EntryCapacity(const Entry* entry) { return malloc_usable_size(const_cast<Entry*>(entry)); }

}  // namespace shoal::node
