// OnceMap: each value made once however many threads ask, failures shared
// with every waiter and not kept.
#include "backends/cache/once_map.h"

#include <kiln/error.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

using kiln::cache::OnceMap;
using namespace std::chrono_literals;

namespace {

constexpr int threads = 8;

/// Runs fn(i) on `threads` threads released together; joins them.
template <class F>
void together(F fn) {
  std::latch start(threads);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i)
    ts.emplace_back([&, i] {
      start.arrive_and_wait();
      fn(i);
    });
  for (std::thread& t : ts) t.join();
}

struct Kernel {
  virtual ~Kernel() = default;
  virtual int run() const = 0;
};
struct Constant final : Kernel {
  explicit Constant(int v) : v(v) {}
  int run() const override { return v; }
  int v;
};

}  // namespace

TEST_CASE("OnceMap: threads asking for one missing key at once share one make", "[cache][once][concurrency]") {
  OnceMap<int> map;
  std::atomic<int> calls{0};
  std::vector<std::shared_ptr<int>> got(threads);
  together([&](int i) {
    got[i] = map.get_or_make("k", [&] {
      ++calls;
      std::this_thread::sleep_for(50ms);  // the others arrive meanwhile
      return 42;
    });
  });
  CHECK(calls == 1);
  for (const auto& p : got) {
    REQUIRE(p);
    CHECK(p == got[0]);
  }
  CHECK(*got[0] == 42);
  CHECK(map.size() == 1);
  CHECK(map.get_or_make("k", [&] { ++calls; return 0; }) == got[0]);
  CHECK(calls == 1);
}

TEST_CASE("OnceMap: a failing make reaches every waiting caller, is not kept, and a retry works",
          "[cache][once][concurrency]") {
  OnceMap<int> map;
  std::atomic<int> calls{0}, failures{0};
  together([&](int) {
    try {
      map.get_or_make("k", [&]() -> int {
        ++calls;
        std::this_thread::sleep_for(50ms);
        throw std::runtime_error("the JIT failed");
      });
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "the JIT failed") ++failures;
    }
  });
  CHECK(failures == threads);
  CHECK(calls >= 1);
  CHECK(map.size() == 0);
  auto v = map.get_or_make("k", [] { return 7; });
  CHECK(*v == 7);
  CHECK(map.size() == 1);
}

TEST_CASE("OnceMap: makes for different keys run at the same time", "[cache][once][concurrency]") {
  // Each make waits for the other to start; one lock held across make would
  // make them time out.
  OnceMap<bool> map;
  std::promise<void> a_started, b_started;
  auto a = std::async(std::launch::async, [&] {
    return *map.get_or_make("a", [&] {
      a_started.set_value();
      return b_started.get_future().wait_for(10s) == std::future_status::ready;
    });
  });
  auto b = std::async(std::launch::async, [&] {
    return *map.get_or_make("b", [&] {
      b_started.set_value();
      return a_started.get_future().wait_for(10s) == std::future_status::ready;
    });
  });
  CHECK(a.get());
  CHECK(b.get());
  CHECK(map.size() == 2);
}

TEST_CASE("OnceMap: holds abstract values made as shared_ptrs until cleared", "[cache][once]") {
  OnceMap<Kernel> map;
  std::shared_ptr<Kernel> k = map.get_or_make("three", [] { return std::make_shared<Constant>(3); });
  CHECK(k->run() == 3);
  CHECK(map.get_or_make("three", [] { return std::make_shared<Constant>(99); }) == k);
  map.clear();
  CHECK(map.size() == 0);
  CHECK(k->run() == 3);  // the caller's pointer outlives the entry
  CHECK(map.get_or_make("three", [] { return std::make_shared<Constant>(4); })->run() == 4);
}

TEST_CASE("OnceMap: a make asking for its own key throws instead of deadlocking", "[cache][once]") {
  OnceMap<int> map;
  CHECK_THROWS_AS(map.get_or_make("k", [&] { return *map.get_or_make("k", [] { return 1; }) + 1; }),
                  kiln::InternalError);
  CHECK(map.size() == 0);
  CHECK(*map.get_or_make("k", [] { return 5; }) == 5);
}
