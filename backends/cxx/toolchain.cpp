// Process spawning for the cxx backend. posix_spawnp, not system(): user
// flags and paths never pass through a shell.
#include "toolchain.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace kiln::cxx {

CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.output = std::string("cannot run '") + argv[0] + "': " + std::strerror(rc);
    return r;
  }
  r.started = true;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<std::string> split_flags(const std::string& flags) {
  std::vector<std::string> out;
  std::istringstream in(flags);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

namespace {

std::string host_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, features;
  while (std::getline(in, line) && (model.empty() || features.empty())) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line;
    if (features.empty() && (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0)) features = line;
  }
  return model + "\n" + features;
}

}  // namespace

std::string toolchain_identity(const std::string& compiler, const std::string& flags) {
  static std::mutex mu;
  static std::map<std::string, std::string> versions;
  std::string version;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = versions.find(compiler);
    if (it == versions.end()) {
      CommandResult r = run_command({compiler, "--version"});
      std::string first = r.output.substr(0, r.output.find('\n'));
      it = versions.emplace(compiler, r.started && r.status == 0 ? first : "").first;
    }
    version = it->second;
  }
  std::string id = compiler + "\n" + version;
  static const std::string cpu = host_cpu();  // read once per process
  if (flags.find("native") != std::string::npos) id += "\n" + cpu;
  return id;
}

}  // namespace kiln::cxx
