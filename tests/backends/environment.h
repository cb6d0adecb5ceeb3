// Test helpers for backends that read the environment and write to stderr:
// a scoped environment variable, a fresh cache directory, stderr capture.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace kiln::test {

/// Sets an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// A fresh, empty cache directory (KILN_CACHE_DIR) with the disk cache on,
/// for one test; removed afterwards.
struct FreshCache {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("kiln-test-cache-" + std::to_string(getpid()) + "-" +
                               std::to_string(reinterpret_cast<uintptr_t>(this)));
  ScopedEnv env{"KILN_CACHE_DIR", dir.string()};
  ScopedEnv disk{"KILN_DISK_CACHE", "1"};
  ~FreshCache() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

/// What `fn` writes to stderr (file descriptor 2).
template <class F>
std::string stderr_of(F&& fn) {
  const std::filesystem::path log =
      std::filesystem::temp_directory_path() / ("kiln-stderr-" + std::to_string(getpid()) + ".txt");
  std::fflush(stderr);
  const int saved = dup(2);
  FILE* out = std::fopen(log.c_str(), "w");
  dup2(fileno(out), 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::fclose(out);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(log);
  return text;
}

/// Runs `fn` in a child process that then leaves at once (_exit: no
/// destructors, no test framework); true when `fn` returned true there.
/// For what another process finds in a cache.
template <class F>
bool in_child(F&& fn) {
  const pid_t child = fork();
  if (child == 0) _exit(fn() ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace kiln::test
