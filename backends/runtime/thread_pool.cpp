// The process-wide thread pool behind kiln_rt_parallel_for. One mutex guards
// all pool and loop state: a loop has only a few chunks per thread, so a
// lock per chunk costs little, and every chunk's writes happen-before its
// caller's return through that mutex. Idle workers sleep on a condition
// variable; callers wait for their loop's last chunk on another.
//
// Waking a sleeping thread costs a context switch, tens of microseconds on a
// busy machine: more than a whole small loop. So a worker that runs out of
// work, and a caller waiting for workers' chunks, first poll for a short
// while (`spin`), and sleep only if nothing happens. A training step is a
// string of parallel loops a few microseconds apart: the workers stay awake
// between them. The cost is up to `spin` of CPU time per idle spell.
//
// Each loop (a Job) lives in its caller's frame. The caller queues it, takes
// chunks of it until none is left, then waits for the chunks workers are
// still running; workers take chunks from the oldest queued loop. A caller
// never needs a worker to make progress, so concurrent callers, a pool being
// resized and a pool with no workers all finish.
#include "thread_pool.h"

#include "trap.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace kiln::runtime {
namespace {

constexpr int max_threads = 1024;
constexpr int64_t chunks_per_thread = 4;
constexpr auto spin = std::chrono::microseconds(50);

// Polls `done` until it holds or `spin` has passed; returns done().
template <class Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + spin;
  for (int k = 0;; ++k) {
    if (done()) return true;
    if ((k & 15) == 15 && std::chrono::steady_clock::now() >= until) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

// > 0 while this thread runs a chunk: parallel loops reached from a body run
// inline instead of queueing work behind the loop that is running them.
thread_local int chunk_depth = 0;
// The caller's copy of a trap message: its Job is gone when it re-raises.
thread_local std::string forwarded_message;

int default_thread_count() {
  if (const char* env = std::getenv("KILN_THREADS"); env && *env) {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(env, &end, 10);
    if (*end == '\0' && errno == 0 && n >= 1) return static_cast<int>(std::min<long>(n, max_threads));
    std::fprintf(stderr, "kiln: ignoring KILN_THREADS=%s: want a positive integer\n", env);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, max_threads));
}

/// One parallel loop. All mutable fields are guarded by the pool's mutex.
struct Job {
  Job(ParallelBody body, void* ctx, int64_t n, int64_t chunks)
      : body(body), ctx(ctx), n(n), chunks(chunks), trap_chunk(chunks) {}

  const ParallelBody body;
  void* const ctx;
  const int64_t n;
  const int64_t chunks;
  int64_t next = 0;     // the first chunk nobody has claimed
  // Claimed chunks that have not finished. Written under the pool's mutex;
  // atomic so that wait() can poll it without the mutex.
  std::atomic<int64_t> running{0};
  int64_t trap_chunk;   // the lowest chunk that trapped; `chunks` when none did
  std::string trap_message;
  std::condition_variable finished;  // running fell to 0 with nothing left to claim

  // Balanced split: the first n % chunks chunks get one extra iteration.
  int64_t begin(int64_t chunk) const { return chunk * (n / chunks) + std::min(chunk, n % chunks); }
  // Chunks after a trapping one are skipped. Chunks are claimed in order, so
  // every chunk before it has already started and will report its own trap.
  bool exhausted() const { return next == chunks || trap_chunk < chunks; }
};

// Runs one chunk under its own trap target; the trap message or nullptr.
const char* run_chunk(Job& job, int64_t chunk) noexcept {
  struct Range {
    Job* job;
    int64_t begin, end;
  } range{&job, job.begin(chunk), job.begin(chunk + 1)};
  ++chunk_depth;
  const char* message = run_trapping(
      [](void* p) {
        const auto* r = static_cast<const Range*>(p);
        r->job->body(r->job->ctx, r->begin, r->end);
      },
      &range);
  --chunk_depth;
  return message;
}

class Pool {
 public:
  Pool() : threads_(default_thread_count()) {}
  ~Pool() {
    std::lock_guard resizing(resize_mutex_);
    join_workers();
  }

  int threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

  void resize(int n) {
    std::lock_guard resizing(resize_mutex_);
    join_workers();
    std::lock_guard lock(mutex_);
    threads_ = n <= 0 ? default_thread_count() : std::min(n, max_threads);
    stopping_ = false;
  }

  /// Queues `job` for the workers, starting them on first use.
  void submit(Job& job) {
    std::lock_guard lock(mutex_);
    start_workers();
    queue_.push_back(&job);
    ++submitted_;
    work_.notify_all();
  }

  /// Records the end of `chunk` (if >= 0) and claims the next chunk of
  /// `job`; -1 when none is left.
  int64_t finish_and_claim(Job& job, int64_t chunk, const char* message) {
    std::lock_guard lock(mutex_);
    if (chunk >= 0) finish(job, chunk, message);
    return claim(job);
  }

  /// Waits until the chunks of an exhausted `job` taken by workers finished.
  void wait(Job& job) {
    spin_until([&] { return job.running.load(std::memory_order_acquire) == 0; });
    std::unique_lock lock(mutex_);  // and its release orders the chunks' writes before the return
    job.finished.wait(lock, [&] { return job.running == 0; });
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (queue_.empty() && !stopping_) {
        const uint64_t seen = submitted_.load(std::memory_order_relaxed);
        lock.unlock();
        spin_until([&] { return submitted_.load(std::memory_order_relaxed) != seen; });
        lock.lock();
      }
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Job& job = *queue_.front();  // queued jobs always have a chunk left
      const int64_t chunk = claim(job);
      lock.unlock();
      const char* message = run_chunk(job, chunk);
      lock.lock();
      finish(job, chunk, message);  // after this, `job` may be gone
    }
  }

  // The functions below run with mutex_ held.
  int64_t claim(Job& job) {
    if (job.exhausted()) return -1;
    ++job.running;
    const int64_t chunk = job.next++;
    if (job.exhausted()) dequeue(job);
    return chunk;
  }

  void finish(Job& job, int64_t chunk, const char* message) {
    if (message && chunk < job.trap_chunk) {
      job.trap_chunk = chunk;
      job.trap_message = message;  // a worker's copy is overwritten by its next trap
      dequeue(job);
    }
    // Notified under the mutex: the caller may destroy `job` once it sees 0.
    if (--job.running == 0 && job.exhausted()) job.finished.notify_all();
  }

  void dequeue(Job& job) { std::erase(queue_, &job); }

  void start_workers() {
    if (stopping_ || !workers_.empty()) return;
    try {
      for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { work(); });
    } catch (const std::system_error&) {
      // Fewer workers than asked for: callers do the remaining work themselves.
    }
  }

  // Stops and joins the workers; leaves stopping_ set. Joins without the
  // mutex, which the workers need to see stopping_ and finish their chunks.
  void join_workers() {
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      workers.swap(workers_);
      work_.notify_all();
    }
    for (auto& w : workers) w.join();
  }

  std::mutex resize_mutex_;  // serialises resize() and the destructor
  std::mutex mutex_;
  std::condition_variable work_;  // a job was queued, or stopping_ was set
  std::vector<Job*> queue_;       // jobs with chunks left to claim, oldest first
  std::atomic<uint64_t> submitted_{0};  // jobs ever queued: what idle workers poll
  std::vector<std::thread> workers_;
  int threads_;  // workers + the caller
  bool stopping_ = false;
};

// Built on first use and destroyed at exit, which joins the workers: no
// thread outlives the pool, so leak and thread sanitizers stay quiet. A
// parallel loop still running on another thread at exit is undefined.
Pool& pool() {
  static Pool p;
  return p;
}

// Runs `job` on the pool and this thread until every chunk finished; the
// message of its lowest trapping chunk, or nullptr. Everything with a
// destructor dies here, before the caller re-raises a trap with longjmp.
const char* run_job(int64_t n, ParallelBody body, void* ctx, int64_t chunks) {
  Pool& p = pool();
  Job job(body, ctx, n, chunks);
  p.submit(job);
  int64_t chunk = p.finish_and_claim(job, -1, nullptr);
  while (chunk >= 0) chunk = p.finish_and_claim(job, chunk, run_chunk(job, chunk));
  p.wait(job);
  if (job.trap_chunk == job.chunks) return nullptr;
  forwarded_message = job.trap_message;
  return forwarded_message.c_str();
}

}  // namespace

void parallel_for(int64_t n, ParallelBody body, void* ctx, int64_t min_chunk) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(min_chunk, 1);
  const int64_t threads = chunk_depth > 0 ? 1 : pool().threads();
  if (threads == 1 || n / (2 * threads) < min_chunk) {
    body(ctx, 0, n);  // a trap goes straight to the caller's target
    return;
  }
  const int64_t chunks = std::min(chunks_per_thread * threads, n / min_chunk);
  if (const char* message = run_job(n, body, ctx, chunks)) kiln_rt_trap(message);
}

void set_thread_count(int n) {
  if (chunk_depth > 0) {
    std::fprintf(stderr, "kiln: set_thread_count called inside a parallel_for body (a kiln bug)\n");
    std::abort();
  }
  pool().resize(n);
}

int thread_count() { return pool().threads(); }

}  // namespace kiln::runtime

extern "C" void kiln_rt_parallel_for(int64_t n, void (*body)(void* ctx, int64_t begin, int64_t end), void* ctx) {
  kiln::runtime::parallel_for(n, body, ctx);
}
