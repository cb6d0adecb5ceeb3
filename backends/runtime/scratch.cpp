#include "scratch.h"

#include <cstdlib>
#include <vector>

namespace {

struct Block {
  uint64_t bytes;
  void* data;
};

// Freed blocks, oldest first. A kernel's temporaries are a handful of
// blocks, so a linear search is the right lookup.
struct Cache {
  std::vector<Block> blocks;
  uint64_t held = 0;
  ~Cache() {
    for (const Block& b : blocks) std::free(b.data);
  }
};
thread_local Cache cache;

uint64_t rounded(uint64_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace

namespace kiln::runtime {
uint64_t scratch_cached_bytes() { return cache.held; }
}  // namespace kiln::runtime

extern "C" {

void* kiln_rt_scratch_alloc(uint64_t bytes) {
  const uint64_t size = rounded(bytes == 0 ? 1 : bytes);
  auto& blocks = cache.blocks;
  for (size_t i = blocks.size(); i-- > 0;)
    if (blocks[i].bytes == size) {
      void* data = blocks[i].data;
      cache.held -= size;
      blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(i));
      return data;
    }
  return std::aligned_alloc(64, size);
}

void kiln_rt_scratch_free(void* block, uint64_t bytes) {
  if (!block) return;
  const uint64_t size = rounded(bytes == 0 ? 1 : bytes);
  if (size > kiln::runtime::scratch_cache_limit) {
    std::free(block);
    return;
  }
  auto& blocks = cache.blocks;
  size_t evict = 0;
  while (cache.held + size > kiln::runtime::scratch_cache_limit) {
    cache.held -= blocks[evict].bytes;
    std::free(blocks[evict++].data);
  }
  blocks.erase(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(evict));
  blocks.push_back({size, block});
  cache.held += size;
}

}  // extern "C"
