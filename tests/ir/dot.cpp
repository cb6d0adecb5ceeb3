// The Graphviz form of the IR (print_dot) and KILN_DUMP=dot's files.
#include <catch2/catch.hpp>

#include <kiln/ir/dot.h>

#include "backends/cxx/toolchain.h"
#include "backends/environment.h"
#include "codegen/ir/dump.h"
#include "support.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

using kiln::Arr;
using kiln::Rep;
namespace fs = std::filesystem;

namespace {

/// A program with every kind of region: if then/else, for body, while
/// cond/body, parallel_for body.
auto every_region() {
  return kiln::stage("regions", {"n", "ys"}, [](Rep<int64_t> n, Arr<double> ys) {
    Rep<int64_t> a = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      kiln::if_(i % 2 == 0, [&] { a += i; }, [&] { a -= 1; });
    });
    kiln::while_([&] { return a > 100; }, [&] { a = a / 2; });
    kiln::parallel_for_(0, ys.size(), [&](Rep<int64_t> i) { ys[i] = ys[i] * 2.0; });
    return a;
  });
}

size_t count(const std::string& text, const std::string& what) {
  size_t k = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++k;
  return k;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A fresh directory for one test; removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("kiln-test-dot-" + std::to_string(getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Graphviz's dot; fails the test when it is missing (scripts install it).
std::string dot_program() {
  std::string dot = kiln::ir::find_on_path("dot");
  INFO("Graphviz's dot is not on PATH: run `source scripts/common.sh; kiln_install_deps` (it installs graphviz)");
  REQUIRE(!dot.empty());
  return dot;
}

/// `dot -Tsvg` on text: Graphviz must accept it; returns the SVG.
std::string render_svg(const std::string& text) {
  TempDir dir;
  std::ofstream(dir.path / "in.dot") << text;
  kiln::cxx::CommandResult r =
      kiln::cxx::run_command({dot_program(), "-Tsvg", (dir.path / "in.dot").string(), "-o", (dir.path / "out.svg").string()});
  INFO(r.output);
  REQUIRE(r.status == 0);
  return read(dir.path / "out.svg");
}

/// The dot id of the first box whose op is `op` (its label is `[%k = ]op ...`).
std::string box_of(const std::string& text, const std::string& op) {
  std::regex box("^ *(\\w+) \\[label=\"(%\\d+ = )?" + op + " ");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, box)) return match[1].str();
  }
  return "";
}

}  // namespace

TEST_CASE("print_dot draws each region as a nested cluster named after its op", "[ir][dot]") {
  std::string text = kiln::ir::print_dot(every_region().module(kiln::test::unoptimised));
  CHECK(text.rfind("digraph kiln {\n", 0) == 0);
  CHECK(count(text, "subgraph cluster_") == 7);  // the function and six regions
  for (const char* title : {"for body of %", "if then of %", "if else of %", "while cond of %", "while body of %",
                            "label=\"parallel_for body\""})
    CHECK(count(text, title) == 1);
  // The if is inside the for body: its clusters open before the for's closes.
  size_t for_body = text.find("for body");
  size_t then = text.find("if then");
  size_t while_cond = text.find("while cond");
  CHECK(for_body < then);
  CHECK(then < while_cond);
  // Every region ends in a yield tied to its op; only parallel_for's hands
  // over no value.
  CHECK(count(text, "[label=\"yield") == 6);
  CHECK(count(text, "[label=\"return %") == 1);
  CHECK(count(text, "[style=dotted]") == 1);
}

TEST_CASE("print_dot joins consecutive stores with dashed effect edges", "[ir][dot]") {
  auto f = kiln::stage("three_stores", [](Arr<float> y, Rep<float> v) {
    y[0] = v;
    y[1] = v + 1.0f;
    y[2] = v + 2.0f;
  });
  std::string text = kiln::ir::print_dot(f.module(kiln::test::unoptimised));
  std::vector<std::string> stores;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find("[label=\"store ") != std::string::npos) stores.push_back(box_of(line, "store"));
  REQUIRE(stores.size() == 3);
  CHECK(count(text, stores[0] + " -> " + stores[1] + " [style=dashed") == 1);
  CHECK(count(text, stores[1] + " -> " + stores[2] + " [style=dashed") == 1);
  CHECK(count(text, "style=dashed") == 2);
  CHECK(count(kiln::ir::print_dot(f.module(kiln::test::unoptimised), {.effect_edges = false}), "style=dashed") == 0);
}

TEST_CASE("print_dot counts a loop that stores as one effect in its parent region", "[ir][dot]") {
  auto f = kiln::stage("store_loop_store", [](Arr<float> y) {
    y[0] = 1.0f;
    kiln::for_(1, y.size(), [&](Rep<int64_t> i) { y[i] = 0.0f; });
    y[0] = 2.0f;
  });
  std::string text = kiln::ir::print_dot(f.module(kiln::test::unoptimised));
  std::string loop = box_of(text, "for");
  REQUIRE(!loop.empty());
  CHECK(count(text, " -> " + loop + " [style=dashed") == 1);
  CHECK(count(text, loop + " -> ") >= 1);
  CHECK(count(text, "style=dashed") == 2);  // store -> for -> store; one store in the body
}

TEST_CASE("print_dot labels carry the test's file:line and the parameter names", "[ir][dot]") {
  const int line = __LINE__ + 2;
  auto f = kiln::stage("scale", {"alpha", "xs"}, [](Rep<float> alpha, Arr<float> xs) {
    xs[0] = xs[0] * alpha;
  });
  std::string text = kiln::ir::print_dot(f.module(kiln::test::unoptimised));
  CHECK(count(text, "\\ndot.cpp:" + std::to_string(line) + "\"") >= 2);  // the load, mul and store
  CHECK(text.find("tests/ir/dot.cpp") == std::string::npos);              // the file name only
  CHECK(text.find("%0 = param 0 : f32\\nalpha") != std::string::npos);
  CHECK(text.find("%1 = param 1 : buf&lt;f32&gt;\\nxs") != std::string::npos);
  CHECK(text.find("label=\"@scale(alpha, xs)\"") != std::string::npos);
  CHECK(kiln::ir::print_dot(f.module(kiln::test::unoptimised), {.locations = false}).find("dot.cpp:") ==
        std::string::npos);
}

TEST_CASE("print_dot numbers values as the text printer does", "[ir][dot]") {
  kiln::ir::Module m = every_region().module(kiln::test::unoptimised);
  std::string text = kiln::ir::print_dot(m);
  std::istringstream printed(kiln::ir::print(m));
  int checked = 0;
  // Arithmetic and comparisons read the same in both forms.
  std::regex generic(R"(^\s*(%\d+ = (add|sub|div|rem|mul|gt|eq) %\d+, %\d+ : \w+)$)");
  for (std::string line; std::getline(printed, line);) {
    std::smatch match;
    if (!std::regex_match(line, match, generic)) continue;
    INFO(line);
    CHECK(text.find("[label=\"" + match[1].str()) != std::string::npos);
    ++checked;
  }
  CHECK(checked >= 6);
}

TEST_CASE("print_dot escapes hostile function and parameter names", "[ir][dot]") {
  auto f = kiln::stage("a\"b\n<&amp;>\\n", {"x\"\\"}, [](Rep<int64_t> x) { return x + 1; });
  std::string text = kiln::ir::print_dot(f.module());
  // The name as the text printer spells it (@"a\"b\x0a<&amp;>\\n"), then
  // made literal for Graphviz: \ and " escaped, & < > as entities.
  CHECK(text.find(R"~(label="@\"a\\\"b\\x0a&lt;&amp;amp;&gt;\\\\n\"(x\"\\)")~") != std::string::npos);
  // No raw newline inside a string: every line is one whole statement.
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    CHECK((line.back() == ';' || line.back() == '{' || line.back() == '}'));
  }
  std::string svg = render_svg(text);
  CHECK(svg.find("@&quot;a\\&quot;b\\x0a&lt;&amp;amp;&gt;\\\\n&quot;(x&quot;\\)") != std::string::npos);
}

TEST_CASE("print_dot draws a value that no region lists as a %?k box, as the text does", "[ir][dot]") {
  using kiln::ir::Op;
  const kiln::ir::Type i64 = kiln::ir::Type::scalar(kiln::ir::Scalar::i64);
  kiln::ir::Function f;
  f.name = "broken";
  f.body = f.add_region();
  kiln::ir::ValueId x = f.add(Op::Param, i64, {}, 0);
  kiln::ir::ValueId stray = f.add(Op::Const, i64, {}, 1);  // in no region
  kiln::ir::ValueId sum = f.add(Op::Add, i64, {x, stray});
  f.regions[f.body].params = {x};
  f.regions[f.body].body = {sum};
  f.regions[f.body].yields = {sum};
  f.result_types = {i64};
  std::string text = kiln::ir::print_dot(f);
  CHECK(kiln::ir::print(f).find("add %0, %?1") != std::string::npos);
  CHECK(text.find("%1 = add %0, %?1 : i64") != std::string::npos);
  CHECK(count(text, "[label=\"%?1 (in no region)\", style=dotted]") == 1);
  render_svg(text);
}

TEST_CASE("print_dot is deterministic", "[ir][dot]") {
  kiln::ir::Module m = every_region().module();
  CHECK(kiln::ir::print_dot(m) == kiln::ir::print_dot(m));
  CHECK(kiln::ir::print_dot(every_region().module()) == kiln::ir::print_dot(m));
  const kiln::ir::Function& f = m.functions[0];
  CHECK(kiln::ir::print_dot(f, &m) == kiln::ir::print_dot(f, &m));
}

TEST_CASE("print_dot draws every function of a module as its own cluster", "[ir][dot]") {
  auto sq = kiln::stage("sq", [](Rep<double> x) { return x * x; });
  auto f = kiln::stage("caller", [&](Rep<double> x) { return sq(x) + sq(x + 1.0); });
  std::string text = kiln::ir::print_dot(f.module(kiln::test::unoptimised));
  CHECK(count(text, "subgraph cluster_") == 2);
  CHECK(text.find("label=\"@caller\"") != std::string::npos);
  CHECK(text.find("label=\"@sq\"") != std::string::npos);
  CHECK(text.find("call @sq(%0) : (f64)") != std::string::npos);
  render_svg(text);
}

TEST_CASE("Graphviz accepts print_dot of if, for, while and parallel_for, before and after optimisation",
          "[ir][dot]") {
  auto f = every_region();
  for (const kiln::ir::Module& m : {f.module(kiln::test::unoptimised), f.module()}) {
    std::string svg = render_svg(kiln::ir::print_dot(m));
    CHECK(svg.find("<svg") != std::string::npos);
  }
}

TEST_CASE("KILN_DUMP=dot writes a .dot and an .svg per pass into KILN_DUMP_DIR", "[ir][dot][pipeline]") {
  dot_program();
  TempDir dir;
  auto f = kiln::stage("dumped/../dot", [](Rep<int64_t> n) { return n * 1 + 0; });
  {
    kiln::test::ScopedEnv dump("KILN_DUMP", "dot");
    kiln::test::ScopedEnv where("KILN_DUMP_DIR", (dir.path / "pictures").string());
    (void)f.ir();
  }
  fs::path first = dir.path / "pictures" / "dumped_.._dot.00.promote_variables.dot";
  REQUIRE(fs::exists(first));
  CHECK(read(first) == kiln::ir::print_dot(f.module({.optimize = false})));
  CHECK(fs::exists(dir.path / "pictures" / "dumped_.._dot.01.inline_calls.dot"));
  CHECK(fs::exists(dir.path / "pictures" / "dumped_.._dot.02.fold.dot"));
  std::string svg = read(dir.path / "pictures" / "dumped_.._dot.02.fold.svg");
  CHECK((svg.rfind("<?xml", 0) == 0 || svg.find("<svg") != std::string::npos));
  size_t dots = 0, svgs = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir.path / "pictures")) {
    dots += e.path().extension() == ".dot";
    svgs += e.path().extension() == ".svg";
  }
  CHECK(dots >= 9);  // promote_variables, inline_calls and two rounds of passes
  CHECK(svgs == dots);
}

TEST_CASE("KILN_DUMP=dot without dot on PATH writes the .dot files and says so", "[ir][dot][pipeline]") {
  TempDir dir;
  auto f = kiln::stage("no_graphviz", [](Rep<int64_t> n) { return n + 1; });
  std::string said = kiln::test::stderr_of([&] {
    kiln::test::ScopedEnv dump("KILN_DUMP", "dot");
    kiln::test::ScopedEnv where("KILN_DUMP_DIR", dir.path.string());
    kiln::test::ScopedEnv path("PATH", dir.path.string());
    (void)f.ir();
  });
  CHECK(fs::exists(dir.path / "no_graphviz.00.promote_variables.dot"));
  CHECK(!fs::exists(dir.path / "no_graphviz.00.promote_variables.svg"));
  // Once, not once per pass (no other test hides dot).
  CHECK(count(said, "Graphviz's dot is not on PATH") == 1);
}

TEST_CASE("KILN_DUMP=dot into a directory that cannot be made is an IOError naming it", "[ir][dot][errors]") {
  TempDir dir;
  std::ofstream(dir.path / "file") << "not a directory";
  std::string target = (dir.path / "file" / "pictures").string();
  auto f = kiln::stage("unwritable", [](Rep<int64_t> n) { return n + 1; });
  kiln::test::ScopedEnv dump("KILN_DUMP", "dot");
  kiln::test::ScopedEnv where("KILN_DUMP_DIR", target);
  std::string msg = kiln::test::error_message<kiln::IOError>([&] { (void)f.ir(); });
  CHECK(msg.find(target) != std::string::npos);
  CHECK(msg.find("set KILN_DUMP_DIR to a writable directory") != std::string::npos);
}

TEST_CASE("KILN_DUMP=dot writes into kiln-dump in the working directory by default", "[ir][dot][pipeline]") {
  TempDir dir;
  const fs::path before = fs::current_path();
  auto f = kiln::stage("default_dir", [](Rep<int64_t> n) { return n + 1; });
  {
    kiln::test::ScopedEnv dump("KILN_DUMP", "dot");
    kiln::test::ScopedEnv where("KILN_DUMP_DIR", "");
    fs::current_path(dir.path);
    (void)f.ir({.optimize = false});
    fs::current_path(before);
  }
  CHECK(fs::exists(dir.path / "kiln-dump" / "default_dir.00.promote_variables.dot"));
}
