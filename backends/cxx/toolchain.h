// Running the system C++ compiler: a command without a shell, its output
// captured; the compiler's identity for cache keys.
#pragma once

#include <string>
#include <vector>

namespace kiln::cxx {

struct CommandResult {
  bool started = false;  // false: the program could not be run at all
  int status = -1;       // exit status (or 128 + signal)
  std::string output;    // stdout and stderr together
};

/// Runs argv[0] (searched in PATH) with argv, no shell involved.
CommandResult run_command(const std::vector<std::string>& argv);

/// Splits a flag string on whitespace ("-O3 -march=native").
std::vector<std::string> split_flags(const std::string& flags);

/// `compiler --version`'s first line plus, for -march=native, the host CPU's
/// model and feature flags: what makes an object file this machine's.
std::string toolchain_identity(const std::string& compiler, const std::string& flags);

}  // namespace kiln::cxx
