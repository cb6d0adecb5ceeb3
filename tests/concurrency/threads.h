// Running one test body on several threads at once, for the concurrency
// tests. Catch's macros are not thread-safe: threads record what they saw,
// and the test thread checks it after they have joined.
#pragma once

#include <exception>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::test {

/// The number of threads the concurrency tests run at once.
inline constexpr int test_threads = 8;

/// Runs fn(t) for t in [0, n) on n threads that start together (each waits
/// until all have started), and joins them. An exception a thread throws is
/// rethrown here, on the calling thread (the first one caught).
template <class F>
void on_threads(int n, F fn) {
  std::latch start(n);
  std::mutex mu;
  std::exception_ptr failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        fn(t);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
      }
    });
  for (std::thread& th : threads) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace kiln::test
