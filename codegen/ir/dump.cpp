// KILN_DUMP parsing, and the files KILN_DUMP=dot writes.
#include "dump.h"

#include <kiln/error.h>
#include <kiln/ir/dot.h>

#include "../../backends/cxx/toolchain.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include <unistd.h>

namespace kiln::ir {

bool dump_requested(std::string_view kind) {
  const char* env = std::getenv("KILN_DUMP");
  if (!env) return false;
  std::string_view list = env;
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == kind) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string find_on_path(std::string_view name) {
  const char* env = std::getenv("PATH");
  std::string_view path = env ? env : "";
  while (true) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    // An empty entry is the working directory, as for execvp.
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
    if (colon == std::string_view::npos) return "";
    path.remove_prefix(colon + 1);
  }
}

namespace {

std::string file_stem(const Module& m, int sequence, std::string_view stage) {
  std::string name = m.functions.empty() || m.functions[0].name.empty() ? "module" : m.functions[0].name;
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  char nn[16];
  std::snprintf(nn, sizeof nn, ".%02d.", sequence);
  return name + nn + std::string(stage);
}

std::filesystem::path dump_directory() {
  const char* env = std::getenv("KILN_DUMP_DIR");
  std::filesystem::path dir = env && *env ? std::filesystem::path(env) : std::filesystem::path("kiln-dump");
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
  if (!ec) dir = absolute;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw IOError("KILN_DUMP=dot cannot create the directory " + dir.string() + " (" +
                  (ec ? ec.message() : std::string("it is not a directory")) +
                  "): set KILN_DUMP_DIR to a writable directory, or take dot out of KILN_DUMP");
  return dir;
}

}  // namespace

void dump_dot(const Module& m, int sequence, std::string_view stage) {
  std::filesystem::path dir = dump_directory();
  std::filesystem::path dot_file = dir / (file_stem(m, sequence, stage) + ".dot");
  {
    std::ofstream out(dot_file, std::ios::binary | std::ios::trunc);
    out << print_dot(m);
    if (!out)
      throw IOError("KILN_DUMP=dot cannot write " + dot_file.string() + ": set KILN_DUMP_DIR to a writable directory (now " +
                    dir.string() + "), or take dot out of KILN_DUMP");
  }
  std::string dot = find_on_path("dot");
  if (dot.empty()) {
    static std::once_flag said;
    std::call_once(said, [&] {
      std::cerr << "kiln: KILN_DUMP=dot writes .dot files only, into " << dir.string()
                << ": Graphviz's dot is not on PATH (install the graphviz package for .svg pictures)\n";
    });
    return;
  }
  std::filesystem::path svg_file = std::filesystem::path(dot_file).replace_extension(".svg");
  // dir is absolute, so neither path can be taken for an option.
  cxx::CommandResult r = cxx::run_command({dot, "-Tsvg", dot_file.string(), "-o", svg_file.string()});
  if (!r.started || r.status != 0)
    std::cerr << "kiln: KILN_DUMP=dot: " << dot << " -Tsvg " << dot_file.string() << " failed: " << r.output << "\n";
}

}  // namespace kiln::ir
