// Running a piece of the tester in a child process, so that a crash or a
// hang in a pass or backend becomes a reported failure instead of ending
// (or stalling) the whole run.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::fuzz {

/// How an isolated run ended and what it sent back.
struct Isolated {
  enum class End { finished, crashed, timed_out };
  End end = End::finished;
  /// The signal that ended a crashed child (signaled), or its nonzero exit
  /// status (a sanitizer report).
  int status = 0;
  bool signaled = false;
  /// Everything the work sent with `send`, also when it crashed part-way.
  std::string output;
};

/// The exit status of a child whose work leaked memory (ASan builds check
/// for leaks before the child exits).
inline constexpr int leak_exit_status = 23;

/// Sends text to the parent, immediately (so it survives a later crash).
using Send = std::function<void(std::string_view)>;

/// Runs work(send) in a forked child, killing it after timeout_s seconds.
/// With fork_it false it runs in this process (no protection; for debuggers).
Isolated isolate(const std::function<void(const Send&)>& work, double timeout_s, bool fork_it);

/// A forked child running work(send), for running several at once
/// (kiln-fuzz --jobs): wait_any() until done(), then end(). isolate() is
/// one of these waited for alone.
class Child {
 public:
  Child(const std::function<void(const Send&)>& work, double timeout_s);
  ~Child();  // kills and reaps a child that was not ended
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The child closed its pipe (it is exiting), or its time is up.
  bool done() const { return done_; }
  /// Seconds from the fork to done (so far, before it).
  double seconds() const;
  /// Reaps the child (killing it if its time ran out): how it ended and
  /// what it sent.
  Isolated end();

 private:
  friend void wait_any(const std::vector<Child*>& children);
  void read();  // what the pipe holds now, without blocking; the deadline

  int pid_ = -1, fd_ = -1;
  bool done_ = false, timed_out_ = false, reaped_ = false;
  std::chrono::steady_clock::time_point start_, deadline_, finished_;
  std::string output_;
};

/// Waits until one of `children` has something to say or ends (a second at
/// most), and reads what they sent.
void wait_any(const std::vector<Child*>& children);

/// "signal 11 (Segmentation fault)", "exit status 1".
std::string describe_end(const Isolated& r);

}  // namespace kiln::fuzz
