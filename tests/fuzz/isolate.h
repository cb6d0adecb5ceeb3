// Running a piece of the tester in a child process, so that a crash or a
// hang in a pass or backend becomes a reported failure instead of ending
// (or stalling) the whole run.
#pragma once

#include <functional>
#include <string>
#include <string_view>

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

/// "signal 11 (Segmentation fault)", "exit status 1".
std::string describe_end(const Isolated& r);

}  // namespace kiln::fuzz
