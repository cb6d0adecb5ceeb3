// Heap blocks for compiled code's large temporaries (IR op alloc above the
// stack limit, backends/llvm/lower.cpp): a kernel asks for the same sizes on
// every call, so each thread keeps the blocks its calls freed and hands them
// out again. Plain malloc/free per call looked free but was not: once the
// blocks were freed, glibc returned the top of the heap to the system
// (M_TRIM_THRESHOLD, 128 KiB), and the next call page-faulted the memory
// back in; a training step of a small MLP ran 1.8x slower in a process that
// loaded its kernel from the disk cache than in one that had compiled it
// (whose earlier compile had left the heap in a state that hid this).
#pragma once

#include <cstdint>

extern "C" {

/// A block of at least `bytes` bytes, 64-byte aligned: one this thread freed
/// before, of the same size, else a new one. Null when out of memory.
void* kiln_rt_scratch_alloc(uint64_t bytes);
/// Gives back a block from kiln_rt_scratch_alloc(bytes) on this thread. The
/// thread keeps it for the next request of that size, up to
/// kiln::runtime::scratch_cache_limit bytes in all (older blocks are freed
/// first); blocks are freed when the thread exits.
void kiln_rt_scratch_free(void* block, uint64_t bytes);

}  // extern "C"

namespace kiln::runtime {

/// The most bytes a thread keeps for reuse.
inline constexpr uint64_t scratch_cache_limit = uint64_t{256} << 20;

/// Bytes the calling thread keeps for reuse now (for tests).
uint64_t scratch_cached_bytes();

}  // namespace kiln::runtime
