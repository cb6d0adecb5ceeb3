// fork + pipe + poll: the child streams text through a pipe and exits with
// _exit (no atexit handlers, no stdio flushing of the parent's buffers).
#include "isolate.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace kiln::fuzz {

Isolated isolate(const std::function<void(const Send&)>& work, double timeout_s, bool fork_it) {
  if (!fork_it) {
    Isolated result;
    work([&](std::string_view s) { result.output += s; });
    return result;
  }
  Child child(work, timeout_s);
  while (!child.done()) wait_any({&child});
  return child.end();
}

Child::Child(const std::function<void(const Send&)>& work, double timeout_s) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("kiln-fuzz: pipe");
    std::_Exit(2);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  start_ = std::chrono::steady_clock::now();
  deadline_ = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
  pid_ = fork();
  if (pid_ < 0) {
    std::perror("kiln-fuzz: fork");
    std::_Exit(2);
  }
  if (pid_ == 0) {
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
  fd_ = fds[0];
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

Child::~Child() {
  if (reaped_) return;
  if (fd_ >= 0) close(fd_);
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

double Child::seconds() const {
  return std::chrono::duration<double>((done_ ? finished_ : std::chrono::steady_clock::now()) - start_).count();
}

void Child::read() {
  if (done_) return;
  for (char buf[4096];;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: nothing more for now
    if (n == 0) {      // the child closed the pipe: it is exiting
      done_ = true;
      break;
    }
    output_.append(buf, static_cast<size_t>(n));
  }
  if (!done_ && std::chrono::steady_clock::now() >= deadline_) done_ = timed_out_ = true;
  if (done_) finished_ = std::chrono::steady_clock::now();
}

Isolated Child::end() {
  Isolated result;
  result.output = std::move(output_);
  close(fd_);
  fd_ = -1;
  if (timed_out_) kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (timed_out_) {
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

void wait_any(const std::vector<Child*>& children) {
  std::vector<pollfd> fds;
  auto wait = std::chrono::milliseconds(1000);
  const auto now = std::chrono::steady_clock::now();
  for (Child* c : children)
    if (!c->done()) {
      fds.push_back({c->fd_, POLLIN, 0});
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(c->deadline_ - now) + std::chrono::milliseconds(1));
    }
  if (fds.empty()) return;
  if (poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait.count(), 0))) < 0 && errno != EINTR) {
    std::perror("kiln-fuzz: poll");
    std::_Exit(2);
  }
  for (Child* c : children) c->read();
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
