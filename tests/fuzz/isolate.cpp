// fork + pipe + poll: the child streams text through a pipe and exits with
// _exit (no atexit handlers, no stdio flushing of the parent's buffers).
#include "isolate.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace kiln::fuzz {

Isolated isolate(const std::function<void(const Send&)>& work, double timeout_s, bool fork_it) {
  Isolated result;
  if (!fork_it) {
    work([&](std::string_view s) { result.output += s; });
    return result;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("kiln-fuzz: pipe");
    std::_Exit(2);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("kiln-fuzz: fork");
    std::_Exit(2);
  }
  if (pid == 0) {
    close(fds[0]);
    auto send = [fd = fds[1]](std::string_view s) {
      while (!s.empty()) {
        ssize_t n = write(fd, s.data(), s.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(3);
        s.remove_prefix(static_cast<size_t>(n));
      }
    };
    work(send);
    std::fflush(stdout);
    std::fflush(stderr);
#if defined(__SANITIZE_ADDRESS__)
    // _exit skips LeakSanitizer's check at exit; the code under test ran here.
    if (__lsan_do_recoverable_leak_check()) _exit(leak_exit_status);
#endif
    _exit(0);
  }
  close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  for (char buf[4096];;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed the pipe: it is exiting
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.end = Isolated::End::timed_out;
  } else if (WIFSIGNALED(status)) {
    result.end = Isolated::End::crashed;
    result.status = WTERMSIG(status);
    result.signaled = true;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    result.end = Isolated::End::crashed;
    result.status = WEXITSTATUS(status);
  }
  return result;
}

std::string describe_end(const Isolated& r) {
  switch (r.end) {
    case Isolated::End::finished: return "finished";
    case Isolated::End::timed_out: return "timed out";
    case Isolated::End::crashed: break;
  }
  if (!r.signaled && r.status == leak_exit_status) return "leaked memory (LeakSanitizer's report is above)";
  if (r.signaled)
    return "crashed: signal " + std::to_string(r.status) + " (" + strsignal(r.status) + ")";
  return "crashed: exit status " + std::to_string(r.status);
}

}  // namespace kiln::fuzz
