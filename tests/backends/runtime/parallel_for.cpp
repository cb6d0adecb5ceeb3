// kiln_rt_parallel_for: every index once in contiguous chunks, whatever the
// thread count; inline for tiny ranges and nested loops; the caller takes
// chunks; concurrent callers; traps re-raised on the caller with the
// lowest-begin message; the thread count from set_thread_count and
// KILN_THREADS. Catch's macros are not thread-safe: bodies record, the test
// thread checks.
#include "backends/environment.h"
#include "thunks.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using kiln::test::parallel;
using kiln::test::ThreadCount;
using kiln::test::trapping;
namespace runtime = kiln::runtime;

namespace {

using Chunk = std::pair<int64_t, int64_t>;

/// What a loop did: the chunks it ran and the threads that ran them.
struct Record {
  std::mutex mutex;
  std::vector<Chunk> chunks;
  std::set<std::thread::id> threads;

  void add(int64_t begin, int64_t end) {
    std::lock_guard lock(mutex);
    chunks.emplace_back(begin, end);
    threads.insert(std::this_thread::get_id());
  }
  std::vector<Chunk> sorted() {
    std::vector<Chunk> c = chunks;
    std::sort(c.begin(), c.end());
    return c;
  }
};

/// The chunks tile [0, n): non-empty, contiguous, in order.
bool tiles(const std::vector<Chunk>& sorted, int64_t n) {
  int64_t at = 0;
  for (auto [begin, end] : sorted) {
    if (begin != at || end <= begin) return false;
    at = end;
  }
  return at == n;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

/// "trap at <i>" for every i < n, built once: trap messages must outlive the trap.
const char* trap_message(int64_t i) {
  static const std::vector<std::string> messages = [] {
    std::vector<std::string> m;
    for (int i = 0; i < 100000; ++i) m.push_back("trap at " + std::to_string(i));
    return m;
  }();
  return messages.at(static_cast<size_t>(i)).c_str();
}

using kiln::test::ScopedEnv;

}  // namespace

TEST_CASE("parallel_for covers every index exactly once in contiguous chunks", "[runtime][parallel_for][concurrency]") {
  const int threads = GENERATE(1, 2, 8);
  const int64_t n = GENERATE(0, 1, 7, 1000, 1000000);
  CAPTURE(threads, n);
  ThreadCount count(threads);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  Record record;
  parallel(n, [&](int64_t begin, int64_t end) {
    record.add(begin, end);
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](const std::atomic<int>& h) { return h.load() == 1; }));
  CHECK(tiles(record.sorted(), n));
  CHECK(record.chunks.size() <= static_cast<size_t>(4 * threads));
}

TEST_CASE("parallel_for with n <= 0 never calls the body", "[runtime][parallel_for][concurrency]") {
  ThreadCount count(4);
  int calls = 0;
  for (int64_t n : {int64_t(0), int64_t(-1), INT64_MIN}) parallel(n, [&](int64_t, int64_t) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("parallel_for results do not depend on the thread count", "[runtime][parallel_for][concurrency]") {
  const int64_t n = 100003;
  auto run = [&](int threads) {
    ThreadCount count(threads);
    std::vector<int64_t> out(static_cast<size_t>(n));
    parallel(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[static_cast<size_t>(i)] = (i * i) % 1009 - i;
    });
    return out;
  };
  const auto sequential = run(1);
  CHECK(run(2) == sequential);
  CHECK(run(3) == sequential);
  CHECK(run(8) == sequential);
}

TEST_CASE("a range below two iterations per thread runs inline on the caller", "[runtime][parallel_for][concurrency]") {
  ThreadCount count(4);
  Record record;
  parallel(7, [&](int64_t begin, int64_t end) { record.add(begin, end); });
  CHECK(record.sorted() == std::vector<Chunk>{{0, 7}});
  CHECK(record.threads == std::set{std::this_thread::get_id()});
}

TEST_CASE("parallel_for with min_chunk never makes chunks smaller than it", "[runtime][parallel_for][concurrency]") {
  ThreadCount count(4);
  Record record;
  auto body = [](void* ctx, int64_t b, int64_t e) { static_cast<Record*>(ctx)->add(b, e); };
  runtime::parallel_for(10000, body, &record, 1000);
  auto chunks = record.sorted();
  CHECK(tiles(chunks, 10000));
  CHECK(chunks.size() == 10);
  Record small;
  runtime::parallel_for(7999, body, &small, 1000);  // fewer than 2 chunks of 1000 per thread: inline
  CHECK(small.sorted() == std::vector<Chunk>{{0, 7999}});
}

TEST_CASE("the calling thread runs chunks too", "[runtime][parallel_for][concurrency]") {
  ThreadCount count(2);
  Record record;
  parallel(8, [&](int64_t begin, int64_t end) {
    record.add(begin, end);
    sleep_ms(2);
  });
  CHECK(record.threads.count(std::this_thread::get_id()) == 1);
  CHECK(tiles(record.sorted(), 8));
}

TEST_CASE("a parallel_for inside a parallel_for body runs inline on that thread",
          "[runtime][parallel_for][concurrency]") {
  ThreadCount count(4);
  std::mutex mutex;
  int64_t outer_chunks = 0, inner_chunks = 0;
  bool inner_on_outer_thread = true;
  std::vector<std::atomic<int>> hits(100 * 64);
  parallel(100, [&](int64_t begin, int64_t end) {
    const auto outer_thread = std::this_thread::get_id();
    for (int64_t i = begin; i < end; ++i)
      parallel(64, [&](int64_t b, int64_t e) {
        std::lock_guard lock(mutex);
        ++inner_chunks;
        inner_on_outer_thread = inner_on_outer_thread && std::this_thread::get_id() == outer_thread;
        for (int64_t j = b; j < e; ++j) hits[static_cast<size_t>(i * 64 + j)].fetch_add(1);
      });
    std::lock_guard lock(mutex);
    ++outer_chunks;
  });
  CHECK(inner_on_outer_thread);
  CHECK(inner_chunks == 100);  // one inline chunk per inner loop
  CHECK(outer_chunks > 1);
  CHECK(std::all_of(hits.begin(), hits.end(), [](const std::atomic<int>& h) { return h.load() == 1; }));
}

TEST_CASE("concurrent parallel_for calls from four threads each complete", "[runtime][parallel_for][concurrency]") {
  ThreadCount count(3);
  constexpr int callers = 4, rounds = 50;
  constexpr int64_t n = 20000;
  std::vector<int> ok(callers, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t)
    threads.emplace_back([&ok, t] {
      std::vector<int64_t> out(n);
      for (int round = 0; round < rounds; ++round) {
        parallel(n, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) out[static_cast<size_t>(i)] = i * (t + 1) + round;
        });
        bool good = true;
        for (int64_t i = 0; i < n; ++i) good = good && out[static_cast<size_t>(i)] == i * (t + 1) + round;
        ok[t] += good;
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < callers; ++t) CHECK(ok[t] == rounds);
}

TEST_CASE("a trap in one chunk reaches the caller's run_trapping with its message",
          "[runtime][parallel_for][trap][concurrency]") {
  ThreadCount count(4);
  const char* m = trapping([] {
    parallel(1000, [](int64_t begin, int64_t end) {
      if (begin <= 777 && 777 < end) kiln_rt_trap("index 777 out of bounds");
    });
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "index 777 out of bounds");
}

TEST_CASE("when several chunks trap, the lowest-begin chunk's message wins",
          "[runtime][parallel_for][trap][concurrency]") {
  const int threads = GENERATE(2, 4, 8);
  CAPTURE(threads);
  ThreadCount count(threads);
  for (int round = 0; round < 20; ++round) {
    const char* m = trapping([] {
      parallel(1000, [](int64_t begin, int64_t) {
        if (begin == 0) sleep_ms(3);  // the lowest chunk traps last
        kiln_rt_trap(trap_message(begin));
      });
    });
    REQUIRE(m != nullptr);
    CHECK(std::string(m) == "trap at 0");
  }
}

TEST_CASE("the trap message is the first trapping iteration's whatever the thread count",
          "[runtime][parallel_for][trap][concurrency]") {
  const int threads = GENERATE(1, 2, 3, 8);
  CAPTURE(threads);
  ThreadCount count(threads);
  const char* m = trapping([] {
    parallel(100000, [](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        if (i % 9973 == 4242) kiln_rt_trap(trap_message(i));
    });
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "trap at 4242");
}

TEST_CASE("chunks not started when a chunk traps are skipped", "[runtime][parallel_for][trap][concurrency]") {
  ThreadCount count(2);
  std::atomic<int> started{0};
  const char* m = trapping([&] {
    parallel(8, [&](int64_t begin, int64_t) {  // 8 chunks of one iteration
      started.fetch_add(1);
      if (begin == 0) kiln_rt_trap("first chunk");
      sleep_ms(20);
    });
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "first chunk");
  CHECK(started.load() < 8);
}

TEST_CASE("a trap in a nested parallel_for reaches the outermost caller",
          "[runtime][parallel_for][trap][concurrency]") {
  ThreadCount count(4);
  const char* m = trapping([] {
    parallel(100, [](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        parallel(100, [i](int64_t b, int64_t e) {
          if (i == 42 && b <= 17 && 17 < e) kiln_rt_trap("inner trap at 42, 17");
        });
    });
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "inner trap at 42, 17");
}

TEST_CASE("the pool runs loops normally after a trap", "[runtime][parallel_for][trap][concurrency]") {
  ThreadCount count(4);
  for (int round = 0; round < 10; ++round) {
    const char* m = trapping([] { parallel(1000, [](int64_t, int64_t) { kiln_rt_trap("every chunk traps"); }); });
    REQUIRE(m != nullptr);
    CHECK(std::string(m) == "every chunk traps");
    std::vector<std::atomic<int>> hits(1000);
    const char* none = trapping([&] {
      parallel(1000, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
    });
    CHECK(none == nullptr);
    CHECK(std::all_of(hits.begin(), hits.end(), [](const std::atomic<int>& h) { return h.load() == 1; }));
  }
}

TEST_CASE("set_thread_count bounds the threads that run chunks", "[runtime][parallel_for][concurrency]") {
  const int threads = GENERATE(1, 2, 3);
  CAPTURE(threads);
  ThreadCount count(threads);
  CHECK(runtime::thread_count() == threads);
  Record record;
  parallel(64, [&](int64_t begin, int64_t end) {
    record.add(begin, end);
    sleep_ms(1);
  });
  CHECK(record.threads.size() <= static_cast<size_t>(threads));
  CHECK(tiles(record.sorted(), 64));
}

TEST_CASE("set_thread_count(0) restores the default from KILN_THREADS", "[runtime][parallel_for][concurrency]") {
  ThreadCount restore(runtime::thread_count());
  {
    ScopedEnv env("KILN_THREADS", "3");
    runtime::set_thread_count(0);
    CHECK(runtime::thread_count() == 3);
    Record record;
    parallel(64, [&](int64_t begin, int64_t end) {
      record.add(begin, end);
      sleep_ms(1);
    });
    CHECK(record.threads.size() <= 3);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  const int fallback = hw == 0 ? 1 : static_cast<int>(std::min(hw, 1024u));
  for (const char* bad : {"0", "-2", "many", "4x"}) {
    CAPTURE(bad);
    ScopedEnv env("KILN_THREADS", bad);
    runtime::set_thread_count(0);  // warns on stderr and falls back
    CHECK(runtime::thread_count() == fallback);
  }
}

// Run by the next test in a fresh process, whose pool is created here.
TEST_CASE("child: the pool takes its size from KILN_THREADS when first used", "[.][runtime_child]") {
  CHECK(runtime::thread_count() == 5);
  Record record;
  parallel(100, [&](int64_t begin, int64_t end) {
    record.add(begin, end);
    sleep_ms(1);
  });
  CHECK(record.chunks.size() == 20);  // 4 chunks per thread
  CHECK(record.threads.size() <= 5);
}

TEST_CASE("KILN_THREADS sets the pool's size when the pool is created", "[runtime][parallel_for][concurrency]") {
  std::vector<std::string> env_strings{"KILN_THREADS=5"};
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("KILN_THREADS=", 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe", filter = "[runtime_child]";
  char* argv[] = {self.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, self.c_str(), &quiet, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&quiet);
  REQUIRE(spawned == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // the child's checks passed
}
