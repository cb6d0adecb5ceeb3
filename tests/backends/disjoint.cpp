// The `disjoint` op on every CPU backend: whether two buffers' element bytes
// overlap, for spans of one vector and of separate ones, empty spans,
// different element types, a buffer with itself, and buffers a function
// makes itself (alloc, the tape). It has no staging API, so the programs
// are IR text; each runs unoptimised and through the default pipeline on
// the interpreter, Backend::cxx and Backend::llvm, and every run must give
// the expected answer.
#include "codegen/emit/cpp.h"
#include "codegen/passes/pipeline.h"

#include <kiln/ir/parser.h>

#include "support.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

using kiln::detail::Slot;
namespace ir = kiln::ir;

/// A buffer argument: a pointer and an element count.
template <class T>
Slot buf(T* p, int64_t n) {
  Slot s;
  s.p = p;
  s.size = n;
  return s;
}
Slot i64(int64_t x) {
  Slot s;
  s.i = x;
  return s;
}

/// The backends built into this kiln, by name.
std::vector<std::pair<std::string, kiln::Backend>> backends() {
  std::vector<std::pair<std::string, kiln::Backend>> out;
  for (auto [name, b] : {std::pair{"interp", kiln::Backend::interp}, std::pair{"cxx", kiln::Backend::cxx},
                         std::pair{"llvm", kiln::Backend::llvm}})
    if (kiln::detail::kernel_factory(b)) out.emplace_back(name, b);
  return out;
}

/// The i1 results of `text`'s entry called with `args`, on every backend,
/// unoptimised and optimised: each must equal `want`.
void check_everywhere(const std::string& text, const std::vector<Slot>& args, const std::vector<bool>& want) {
  const ir::Module parsed = ir::parse(text, "disjoint.kir");
  const ir::Module optimised = kiln::passes::run_pipeline(parsed, kiln::Options{.verify_each_pass = true});
  for (const auto& [label, m] : {std::pair{"unoptimised", &parsed}, std::pair{"optimised", &optimised}})
    for (const auto& [name, b] : backends()) {
      std::vector<Slot> out(want.size() + 1);
      kiln::detail::kernel_factory(b)(*m, kiln::Options{})->call(args.data(), args.size(), out.data(), want.size());
      std::vector<bool> got;
      for (size_t k = 0; k < want.size(); ++k) got.push_back(out[k].i != 0);
      INFO(name << ", " << label << ":\n" << ir::print(*m));
      CHECK(got == want);
    }
}

// Both read-only: Backend::llvm compiles such buffers `noalias` and calls
// that variant even when they overlap (nothing is written), so this checks
// that the comparison is of the addresses as passed.
const std::string two_read_only = R"(
func @apart(%a: buf<const f64>, %b: buf<const f64>) -> (i1, i1) {
  %ab = disjoint %a, %b : i1
  %ba = disjoint %b, %a : i1
  return %ab, %ba
}
)";

// One written: overlapping calls run LLVM's variant without `noalias`.
const std::string one_written = R"(
func @apart(%a: buf<f64>, %b: buf<const f64>) -> (i1, i1) {
  %ab = disjoint %a, %b : i1
  %ba = disjoint %b, %a : i1
  return %ab, %ba
}
)";

}  // namespace

TEST_CASE("disjoint: spans of one vector and of separate vectors, on every backend", "[disjoint][backends]") {
  std::vector<double> v(16, 1.0), w(16, 2.0);
  double* p = v.data();
  for (const std::string& text : {two_read_only, one_written}) {
    INFO(text);
    SECTION("separate vectors are disjoint") { check_everywhere(text, {buf(p, 16), buf(w.data(), 16)}, {true, true}); }
    SECTION("a span is not disjoint from itself") { check_everywhere(text, {buf(p, 16), buf(p, 16)}, {false, false}); }
    SECTION("overlapping subspans are not disjoint") {
      check_everywhere(text, {buf(p, 8), buf(p + 7, 4)}, {false, false});    // share element 7
      check_everywhere(text, {buf(p + 2, 2), buf(p, 16)}, {false, false});   // one inside the other
    }
    SECTION("adjacent subspans are disjoint") {
      check_everywhere(text, {buf(p, 8), buf(p + 8, 8)}, {true, true});
      check_everywhere(text, {buf(p + 9, 1), buf(p + 4, 5)}, {true, true});
    }
    SECTION("an empty span is disjoint from everything, even inside another or itself") {
      check_everywhere(text, {buf(p + 4, 0), buf(p, 16)}, {true, true});
      check_everywhere(text, {buf(p + 4, 0), buf(p + 4, 0)}, {true, true});
      check_everywhere(text, {buf(static_cast<double*>(nullptr), 0), buf(p, 16)}, {true, true});
    }
  }
}

TEST_CASE("disjoint: element types of different widths compare bytes", "[disjoint][backends]") {
  const std::string text = R"(
func @mixed(%d: buf<const f64>, %i: buf<i32>, %b: buf<const i1>) -> (i1, i1, i1) {
  %di = disjoint %d, %i : i1
  %ib = disjoint %i, %b : i1
  %db = disjoint %d, %b : i1
  return %di, %ib, %db
}
)";
  // One block of memory seen as 4 doubles (bytes 0..32), as int32s and as bools.
  alignas(8) unsigned char bytes[64] = {};
  auto* d = reinterpret_cast<double*>(bytes);
  auto* i = reinterpret_cast<int32_t*>(bytes);
  auto* b = reinterpret_cast<bool*>(bytes);
  // int32s 8..11 are bytes 32..48: just after the doubles; bool 48 just after them.
  check_everywhere(text, {buf(d, 4), buf(i + 8, 4), buf(b + 48, 3)}, {true, true, true});
  // int32s 7..8 are bytes 28..36: into the last double; bool 30 is inside both.
  check_everywhere(text, {buf(d, 4), buf(i + 7, 2), buf(b + 30, 1)}, {false, false, false});
  // bool 31 is the last byte of the doubles, and before int32 8.
  check_everywhere(text, {buf(d, 4), buf(i + 8, 1), buf(b + 31, 1)}, {true, true, false});
}

TEST_CASE("disjoint: buffers from alloc and the tape", "[disjoint][backends]") {
  const std::string text = R"(
func @owned(%a: buf<const f64>, %n: i64) -> (i1, i1, i1, i1, i1, i1) {
  %t = alloc 4 : buf<f32>
  %e = alloc 0 : buf<i64>
  %u = alloc 3 : buf<f64>
  %r = tape.reserve 0, %n : buf<f64>
  %ta = disjoint %t, %a : i1
  %tt = disjoint %t, %t : i1
  %ee = disjoint %e, %e : i1
  %tu = disjoint %t, %u : i1
  %ra = disjoint %r, %a : i1
  %rt = disjoint %r, %t : i1
  %x = tape.release 0, %n : buf<f64>
  return %ta, %tt, %ee, %tu, %ra, %rt
}
)";
  std::vector<double> a(8, 0.5);
  check_everywhere(text, {buf(a.data(), 8), i64(5)}, {true, false, true, true, true, true});
}

TEST_CASE("disjoint: its i1 chooses a branch and a value, on every backend", "[disjoint][backends]") {
  const std::string text = R"(
func @guarded(%x: buf<const f64>, %y: buf<f64>) -> (i1, i1) {
  %zero = const 0 : i64
  %d = disjoint %x, %y : i1
  %r = if %d : (i1) {
    %v = load %x[%zero] : f64
    %w = mul %v, %v : f64
    store %y[%zero], %w
    yield %d
  } else {
    %f = const false : i1
    yield %f
  }
  %r0 = get %r, 0 : i1
  %t = const true : i1
  %s = select %d, %t, %r0 : i1
  return %r0, %s
}
)";
  std::vector<double> x = {3, 0}, y = {0, 0};
  check_everywhere(text, {buf(x.data(), 2), buf(y.data(), 2)}, {true, true});
  CHECK(y[0] == 9);
  check_everywhere(text, {buf(x.data(), 2), buf(x.data() + 1, 1)}, {false, false});
  CHECK(x == std::vector<double>{3, 0});  // the overlapping call wrote nothing
}

TEST_CASE("disjoint: the emitted C++ compares the spans with kiln_disjoint", "[disjoint][emit]") {
  const ir::Module m = ir::parse(one_written, "disjoint.kir");
  const std::string text = kiln::emit::emit_cpp(m);
  CHECK_LINES(text, {"template <class A, class B> bool kiln_disjoint(const A* a, int64_t na, const B* b, int64_t nb) {",
                     "  if (na <= 0 || nb <= 0) return true;",
                     "  return a_end <= b_begin || b_end <= a_begin;",
                     "extern \"C\" void apart(double* a, int64_t a_size, const double* b, int64_t b_size, ",
                     "const bool t0 = kiln_disjoint(a, a_size, b, b_size);",
                     "const bool t1 = kiln_disjoint(b, b_size, a, a_size);"});
}
