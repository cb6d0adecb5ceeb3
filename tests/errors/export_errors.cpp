// Misuse around generated source: files that cannot be written are a
// kiln::IOError naming the user's line and what to do. Hostile names for
// functions and parameters are not errors: they are sanitised, and the
// program runs and exports correctly (docs/errors.md lists them).
#include <catch2/catch.hpp>

#include "errors/misuse.h"
#include "support.h"

#include <kiln/export.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::IOError;
using kiln::Rep;
using kiln::test::expect_misuse;

namespace fs = std::filesystem;

// --- files that cannot be written -------------------------------------------------------------

TEST_CASE("misuse: export_source into a directory that does not exist", "[errors][export]") {
  auto f = kiln::stage("f", [](Rep<int32_t> a) { return a; });
  int line = 0;
  auto msg = expect_misuse<IOError>([&] { line = __LINE__; kiln::export_source(f, "/nonexistent-kiln-dir/f.cpp"); },
                                    line, "give a file path in a directory that exists and is writable");
  CHECK_THAT(msg, Contains("cannot write /nonexistent-kiln-dir/f.cpp") && Contains("No such file or directory"));
}

TEST_CASE("misuse: export_header under a path that is a regular file", "[errors][export]") {
  auto f = kiln::stage("f", [](Rep<int32_t> a) { return a; });
  int line = 0;
  auto msg = expect_misuse<IOError>([&] { line = __LINE__; kiln::export_header(f, "/dev/null/f.h"); }, line,
                                    "give a file path in a directory that exists and is writable");
  CHECK_THAT(msg, Contains("cannot write /dev/null/f.h") && Contains("Not a directory"));
}

TEST_CASE("misuse: export_source to a path that is a directory", "[errors][export]") {
  auto f = kiln::stage("f", [](Rep<int32_t> a) { return a; });
  const fs::path dir = fs::temp_directory_path();
  int line = 0;
  auto msg = expect_misuse<IOError>([&] { line = __LINE__; kiln::export_source(f, dir); }, line,
                                    "give a file path in a directory that exists and is writable");
  CHECK_THAT(msg, Contains("Is a directory"));
}

// --- hostile names: sanitised, never an error ----------------------------------------------------

namespace {

/// Names a user may give that are not identifiers: quotes, backslashes,
/// newlines and comment ends (which must not break out of a string or a
/// comment), paths, spaces, keywords and names of the standard library and
/// of kiln's own entry point, an empty name, invalid UTF-8, a trigraph and a
/// very long name.
std::vector<std::string> hostile_names() {
  return {"a\"b\\c\nd */ e", "", "int", "../../etc/passwd", "with space", "main", "kiln_call", "sqrt", "std",
          "\xff\xfe", "\xc3\xa9t\xc3\xa9", "?\?=", "0starts_with_digit", std::string(4096, 'n')};
}

/// A scratch directory for one test, removed at the end.
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("kiln-errors-" + std::to_string(getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// True when `compiler` with `flags` accepts `files`.
bool compiles(const std::string& compiler, const std::string& flags, const std::vector<fs::path>& files) {
  std::string cmd = compiler + " " + flags;
  for (const fs::path& f : files) cmd += " '" + f.string() + "'";
  return std::system((cmd + " 2>&1").c_str()) == 0;
}

/// True when a C file that includes `header` (in `dir`) compiles.
bool header_compiles(const ScratchDir& dir, const std::string& header) {
  const fs::path use = dir.path / (header + ".c");
  std::ofstream(use) << "#include \"" << header << "\"\n";
  return compiles("cc", "-std=c11 -fsyntax-only -Wall -Wextra -Werror", {use});
}

}  // namespace

TEST_CASE("hostile function names run on every backend and export as valid C++", "[errors][export][names]") {
  const std::vector<std::string> names = hostile_names();
  std::vector<kiln::Staged<double(double)>> callees;
  for (size_t k = 0; k < names.size(); ++k)
    callees.push_back(kiln::stage(names[k], [k](Rep<double> x) { return x * static_cast<double>(k + 2); }));
  double expected = 0;
  for (size_t k = 0; k < names.size(); ++k) expected += 1.5 * static_cast<double>(k + 2);

  ScratchDir dir;
  std::vector<fs::path> sources;
  for (const std::string& entry_name : {names[0], std::string("main"), std::string(4096, 'n')}) {
    auto entry = kiln::stage(entry_name, [&](Rep<double> x) {
      Rep<double> s = 0.0;
      for (const auto& c : callees) s += c(x);
      return s;
    });
    for (kiln::Backend b : {kiln::Backend::interp, kiln::Backend::cxx, kiln::Backend::llvm}) {
      if (!kiln::available(b)) continue;
      kiln::Options opts{.backend = b};
      opts.passes.inline_calls = false;  // every callee stays a function of its own
      CHECK(kiln::compile(entry, opts)(1.5) == expected);
    }
    kiln::Options opts;
    opts.passes.inline_calls = false;
    const std::string n = std::to_string(sources.size());
    sources.push_back(dir.path / ("entry" + n + ".cpp"));
    kiln::export_source(entry, sources.back(), kiln::Target::cpp, opts);
    kiln::export_header(entry, dir.path / ("entry" + n + ".h"), opts);
  }
  CHECK(compiles("c++", "-std=c++17 -fsyntax-only -Wall -Wextra -Werror", sources));
  for (size_t k = 0; k < sources.size(); ++k) CHECK(header_compiles(dir, "entry" + std::to_string(k) + ".h"));
}

TEST_CASE("hostile parameter names run and export as valid C++", "[errors][export][names]") {
  auto f = kiln::stage("params", {"int", "x y", "a\"b\n", "", "int"},
                       [](Rep<double> a, Arr<const double> b, Arr<double> c, Rep<int64_t> d, Rep<double> e) {
                         c[0] = a * b[0] + kiln::cast<double>(d) * e;
                         return c[0];
                       });
  std::vector<double> b = {2.0}, c = {0.0};
  for (kiln::Backend k : {kiln::Backend::interp, kiln::Backend::cxx, kiln::Backend::llvm}) {
    if (!kiln::available(k)) continue;
    CHECK(kiln::compile(f, {.backend = k})(3.0, std::span<const double>(b), std::span<double>(c), 4, 0.5) == 8.0);
  }
  ScratchDir dir;
  kiln::export_source(f, dir.path / "params.cpp");
  kiln::export_header(f, dir.path / "params.h");
  CHECK(compiles("c++", "-std=c++17 -fsyntax-only -Wall -Wextra -Werror", {dir.path / "params.cpp"}));
  CHECK(header_compiles(dir, "params.h"));
}
