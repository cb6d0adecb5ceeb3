// Traps without exceptions: kiln_rt_trap jumps to the innermost
// run_trapping of its thread, targets nest and are restored, messages are
// copied, and a trap with no target aborts loudly.
#include "thunks.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using kiln::test::trapping;
using kiln::runtime::run_trapping;

namespace {

/// Traps `depth` calls down; a negative depth returns without trapping.
[[gnu::noinline]] void trap_at_depth(int depth, const char* message) {
  if (depth < 0) return;
  if (depth == 0) kiln_rt_trap(message);
  trap_at_depth(depth - 1, message);
}

}  // namespace

TEST_CASE("run_trapping returns nullptr when the function returns normally", "[runtime][trap]") {
  int calls = 0;
  auto count = [](void* ctx) { ++*static_cast<int*>(ctx); };
  CHECK(run_trapping(count, &calls) == nullptr);
  CHECK(calls == 1);
}

TEST_CASE("run_trapping returns the message of a trap deep in the call chain", "[runtime][trap]") {
  int reached = 0;
  const char* m = trapping([&] {
    reached = 1;
    trap_at_depth(50, "index 7 out of bounds");
    reached = 2;
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "index 7 out of bounds");
  CHECK(reached == 1);
}

TEST_CASE("a trap with a null message still reports a trap", "[runtime][trap]") {
  const char* m = trapping([] { kiln_rt_trap(nullptr); });
  REQUIRE(m != nullptr);
  CHECK(std::string(m).find("trapped") != std::string::npos);
}

TEST_CASE("the trap message is a copy that outlives the trapping module's string", "[runtime][trap]") {
  char module_string[] = "division by zero";
  const char* m = trapping([&] { kiln_rt_trap(module_string); });
  std::memset(module_string, 'x', sizeof module_string - 1);  // the module is unloaded
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "division by zero");
}

TEST_CASE("a trap inside a nested run_trapping is caught by the innermost one", "[runtime][trap]") {
  std::string inner;
  bool outer_continued = false;
  const char* m = trapping([&] {
    inner = trapping([] { kiln_rt_trap("inner"); });
    outer_continued = true;
  });
  CHECK(m == nullptr);
  CHECK(inner == "inner");
  CHECK(outer_continued);
}

TEST_CASE("a trap after a nested run_trapping returned goes to the enclosing one", "[runtime][trap]") {
  const char* inner = "not run";
  const char* m = trapping([&] {
    inner = trapping([] {});
    kiln_rt_trap("outer");
  });
  CHECK(inner == nullptr);
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "outer");
}

TEST_CASE("re-raising a caught message propagates the trap to the enclosing run_trapping", "[runtime][trap]") {
  const char* m = trapping([] {
    if (const char* inner = trapping([] { kiln_rt_trap("from the inner call"); })) kiln_rt_trap(inner);
  });
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "from the inner call");
}

TEST_CASE("an exception thrown through run_trapping restores the enclosing target", "[runtime][trap]") {
  bool caught = false;
  const char* m = trapping([&] {
    try {
      trapping([] { throw std::runtime_error("not a trap"); });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    kiln_rt_trap("after the exception");  // must land in this run_trapping, not the dead inner one
  });
  CHECK(caught);
  REQUIRE(m != nullptr);
  CHECK(std::string(m) == "after the exception");
}

TEST_CASE("each thread's traps go to that thread's own run_trapping", "[runtime][trap][concurrency]") {
  static const char* const messages[] = {"thread 0", "thread 1", "thread 2", "thread 3"};
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&got, t] {
      for (int round = 0; round < 1000; ++round) {
        const char* m = trapping([t, round] { trap_at_depth(round % 8 + t, messages[t]); });
        if (!m || std::string(m) != messages[t]) return;  // got[t] stays empty: a failure
      }
      got[t] = messages[t];
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(got[t] == messages[t]);
}

TEST_CASE("kiln_rt_trap with no run_trapping prints the message and aborts", "[runtime][trap]") {
  int err[2];
  REQUIRE(pipe(err) == 0);
  std::fflush(nullptr);  // the child must not flush the parent's buffered output again
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::signal(SIGABRT, SIG_DFL);  // not Catch's fatal-signal handler
    dup2(err[1], STDERR_FILENO);
    kiln_rt_trap("lost trap");
  }
  close(err[1]);
  std::string output;
  char buf[256];
  for (ssize_t k; (k = read(err[0], buf, sizeof buf)) > 0;) output.append(buf, static_cast<size_t>(k));
  close(err[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(output.find("lost trap") != std::string::npos);
  CHECK(output.find("kiln bug") != std::string::npos);
}
