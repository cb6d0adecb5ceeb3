// Parallel loops for compiled code: kiln_rt_parallel_for splits [0, n) into
// contiguous chunks and runs them on a process-wide pool of worker threads,
// with the calling thread taking chunks too. Traps in chunks are collected
// and re-raised on the calling thread, so a parallel loop traps like the
// sequential loop would.
//
// Scheduling, in numbers (T = thread_count(), the workers plus the caller):
//   - n <= 0: returns at once.
//   - Inline (body(ctx, 0, n) on the caller, no pool involved) when T == 1,
//     when called from inside a parallel_for body (nested loops run on the
//     thread that reached them; no deadlock, no oversubscription), or when
//     the range is too small to give each thread two chunks of min_chunk
//     iterations (n < 2 * T * min_chunk; min_chunk is 1 for
//     kiln_rt_parallel_for, so below two iterations per thread).
//   - Otherwise min(4 * T, n / min_chunk) balanced contiguous chunks (sizes
//     differ by at most one), a few per thread so uneven iterations balance
//     out. Chunks are claimed in increasing order of begin.
#pragma once

#include <cstdint>

extern "C" {

/// Runs body(ctx, begin, end) over [0, n) in contiguous chunks on the thread
/// pool and the calling thread; returns when every chunk has finished. Each
/// chunk runs under kiln::runtime::run_trapping on the thread that executes
/// it. When a chunk traps, chunks not yet started are skipped and, once the
/// running ones have finished, the trap is re-raised with kiln_rt_trap on the
/// calling thread, with the message of the trapping chunk with the lowest
/// begin. Since chunks start in order of begin, that is the message of the
/// first trapping iteration in sequential order, whatever the thread count
/// (when each chunk runs its iterations in order and stops at its first trap).
/// The body must not throw C++ exceptions (std::terminate).
void kiln_rt_parallel_for(int64_t n, void (*body)(void* ctx, int64_t begin, int64_t end), void* ctx);

}  // extern "C"

namespace kiln::runtime {

/// A parallel loop body: runs iterations [begin, end) of the loop.
using ParallelBody = void (*)(void* ctx, int64_t begin, int64_t end);

/// kiln_rt_parallel_for with a grain: no chunk gets fewer than min_chunk
/// iterations (values below 1 mean 1), and the loop runs inline unless every
/// thread can get two such chunks. For bodies whose iterations are cheap.
///   parallel_for(n, body, &args, 4096);
void parallel_for(int64_t n, ParallelBody body, void* ctx, int64_t min_chunk = 1);

/// Sets the number of threads a parallel loop uses, the caller included
/// (n - 1 workers; 1 runs everything inline on the caller). n <= 0 restores
/// the default: $KILN_THREADS if it is a positive integer, else
/// std::thread::hardware_concurrency(). Capped at 1024. Waits for the current
/// workers to finish their chunks (loops in flight complete on their
/// callers); new workers start on the next parallel loop. Must not be called
/// from inside a parallel_for body (aborts with a message).
///   kiln::runtime::set_thread_count(1);  // run parallel loops sequentially
void set_thread_count(int n);

/// The number of threads a parallel loop uses, the caller included. The
/// default is read from $KILN_THREADS, else hardware_concurrency(), when the
/// pool is first used.
int thread_count();

}  // namespace kiln::runtime
