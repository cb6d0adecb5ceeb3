// Adapters from C++ lambdas to the runtime's C callbacks, for the runtime
// tests. A trap longjmps over the lambda's frame: lambdas that may trap hold
// no objects with destructors at the point of the trap.
#pragma once

#include "backends/runtime/thread_pool.h"
#include "backends/runtime/trap.h"

#include <cstdint>
#include <type_traits>

namespace kiln::test {

/// run_trapping over a callable: nullptr, or the message it trapped with.
template <class F>
const char* trapping(F&& f) {
  using Fn = std::remove_reference_t<F>;
  return runtime::run_trapping([](void* ctx) { (*static_cast<Fn*>(ctx))(); }, &f);
}

/// kiln_rt_parallel_for over a callable f(begin, end).
template <class F>
void parallel(int64_t n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  kiln_rt_parallel_for(n, [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); }, &f);
}

/// Sets the pool's thread count for one scope, then restores the old one.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(runtime::thread_count()) { runtime::set_thread_count(n); }
  ~ThreadCount() { runtime::set_thread_count(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace kiln::test
