// The IR parser: print(parse(text)) == text for staged programs at every
// stage (staged, promoted, optimised, differentiated, lowered), hand-written
// text with named values that runs, and located errors for malformed text.
#include <catch2/catch.hpp>

#include <kiln/ir/parser.h>
#include <kiln/ir/verifier.h>

#include "support.h"

#include <cmath>
#include <limits>

using kiln::Arr;
using kiln::Rep;
using kiln::ir::parse;
using kiln::ir::ParseError;
using kiln::ir::print;

namespace {

/// Reads back the module's text and checks it prints the same.
void check_round_trip(const kiln::ir::Module& m) {
  const std::string text = print(m);
  INFO(text);
  kiln::ir::Module back = parse(text, "round_trip.kir");
  CHECK(print(back) == text);
  CHECK(kiln::ir::structurally_equal(back, m));
}

/// The ParseError `text` gives: its position and message.
struct Failure {
  int line = 0, column = 0;
  std::string message;
};
Failure parse_failure(const std::string& text) {
  try {
    parse(text, "bad.kir");
  } catch (const ParseError& e) {
    return {e.line(), e.column(), e.what()};
  }
  FAIL_CHECK("no ParseError for:\n" << text);
  return {};
}

auto scalar_programs() {
  auto helper = kiln::stage("clamp01", [](Rep<double> x) { return kiln::min(kiln::max(x, 0.0), 1.0); });
  auto program = kiln::stage("loops_and_branches", [=](Arr<double> out, Arr<const double> in, Rep<int64_t> n) {
    Rep<double> acc = 0.0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      Rep<double> x = in[i];
      kiln::if_(x > 0.5, [&] { acc += helper(x) * 2.0; }, [&] { acc -= kiln::exp(x); });
    });
    Rep<int64_t> k = 0;
    kiln::while_([&] { return k * k < n; }, [&] { k += 1; });
    kiln::parallel_for_(0, n, [&](Rep<int64_t> i) { out[i] = in[i] * acc + kiln::cast<double>(k); });
    return acc;
  });
  return program;
}

}  // namespace

TEST_CASE("a staged program reads back as itself before and after every stage", "[ir][parser]") {
  auto f = scalar_programs();
  check_round_trip(f.module(kiln::test::unoptimised));
  check_round_trip(f.module());
  check_round_trip(f.module({.fast_math = true}));
}

TEST_CASE("IR before promotion, with staging variables, reads back as itself", "[ir][parser]") {
  // (kiln-fuzz reads back every generated program before promotion too.)
  const std::string text = "func @v(%0: f64) -> (f64) {\n  var.store $0, %0\n  %1 = var.load $0 : f64\n  return %1\n}\n";
  CHECK(print(parse(text)) == text);
}

TEST_CASE("gradients, tensors, lowered loop nests, checks and GEMM calls read back as themselves", "[ir][parser]") {
  auto t = kiln::test::mlp_training<float>("mlp_loss", "mlp_step", 64, 16, 32, 4);
  check_round_trip(t.loss.module({.passes = {.lower_tensors = false}}));  // tensor ops
  check_round_trip(t.step.module(kiln::test::unoptimised));              // a staged call of a gradient
  check_round_trip(t.step.module());                                     // lowered: alloc, check, loops
  kiln::ir::Module fast = t.step.module({.fast_math = true});             // gemm
  CHECK(kiln::test::count(print(fast), "gemm ") > 0);
  check_round_trip(fast);
  auto w = kiln::stage("while_grad", [](Rep<double> x) {
    Rep<double> y = x;
    kiln::while_([&] { return y < 100.0; }, [&] { y = y * y + 1.0; });
    return y;
  });
  check_round_trip(kiln::grad(w).module());  // tape.push / tape.pop
}

TEST_CASE("every op of the table reads back: hand-written text with named values", "[ir][parser]") {
  const std::string text = R"(// a comment line
func @main(%x: f32, %n: i64, %buf: buf<f32>, %ro: buf<const f32>) -> (f32, i64) {
  %one = const 1 : i64
  %half = const 0.5 : f32
  %c = lt %x, %half : i1
  %r = if %c : (f32) {   // trailing comments are ignored
    %a = call @helper(%x) : (f32)
    %a0 = get %a, 0 : f32
    yield %a0
  } else {
    yield %x
  }
  %r0 = get %r, 0 : f32
  %loop = for %one, %n, %one iter(%r0) : (f32) {
  ^(%i: i64, %acc: f32):
    %v = load %ro[%i] : f32
    %s = fma %v, %acc, %half : f32
    yield %s
  }
  %sum = get %loop, 0 : f32
  %w = while (%n) : (i64) {
  ^(%k: i64):
    %zero = const 0 : i64
    %more = gt %k, %zero : i1
    yield %more, %k
  } do {
  ^(%k2: i64):
    %next = sub %k2, %one : i64
    yield %next
  }
  %left = get %w, 0 : i64
  parallel_for %one, %n, %one {
  ^(%j: i64):
    store %buf[%j], %sum
    yield
  }
  %ok = ge %n, %one : i1
  check %ok, "n must be \"positive\"", "pass n >= 1"
  %t = tensor.splat %x : tensor<f32, 2x3>
  %tt = tensor.transpose %t [1, 0] : tensor<f32, 3x2>
  %ts = tensor.slice %t [0:1, 1:2] : tensor<f32, 2x1>
  %tr = tensor.sum %t axes [1] : tensor<f32, 2>
  %tk = tensor.const [1.5, -2.0, nan, -inf] : tensor<f32, 4>
  %tl = tensor.load exact %ro[%one] : tensor<f32, 2x3>
  %tm = tensor.matmul %t, %tt : tensor<f32, 2x2>
  tensor.store %buf[%one], %tm
  %tmp = alloc 4 : buf<f32>
  gemm %buf, %one, %ro, %one, %tmp [2, 1, 2]
  %apart = disjoint %ro, %tmp : i1
  check %apart, "the scratch overlaps ro", "a kiln bug"
  return %sum, %left
}

func @helper(%y: f32) -> (f32) {
  %y2 = mul %y, %y : f32
  return %y2
}
)";
  kiln::ir::Module m = parse(text, "hand.kir");
  REQUIRE(m.functions.size() == 2);
  CHECK(m.functions[0].param_names == std::vector<std::string>{"x", "n", "buf", "ro"});
  const std::string printed = print(m);
  CHECK(kiln::test::count(printed, "%x") == 0);  // renumbered in order of appearance
  CHECK(print(parse(printed)) == printed);
  CHECK(printed.find(R"(check %)") != std::string::npos);
  CHECK(printed.find(" = disjoint %3, %") != std::string::npos);  // %ro is parameter 3
  CHECK(printed.find(R"("n must be \"positive\"", "pass n >= 1")") != std::string::npos);
}

TEST_CASE("hand-written IR runs on the interpreter", "[ir][parser]") {
  kiln::ir::Module m = parse(R"(
func @poly(%x: f64, %n: i64) -> (f64) {
  %zero = const 0 : i64
  %one = const 1 : i64
  %acc0 = const 0.0 : f64
  %l = for %zero, %n, %one iter(%acc0) : (f64) {
  ^(%i: i64, %acc: f64):
    %t = mul %acc, %x : f64
    %fi = cast %i : f64
    %u = add %t, %fi : f64
    yield %u
  }
  %r = get %l, 0 : f64
  return %r
}
)");
  std::vector<kiln::detail::Slot> args(2);
  args[0].f64 = 2.0;
  args[1].i = 4;
  // ((0*2 + 0)*2 + 1)*2 + 2)*2 + 3 = 11
  std::vector<kiln::detail::Slot> out = kiln::interp::run(m, args);
  REQUIRE(out.size() == 1);
  CHECK(out[0].f64 == 11.0);
}

TEST_CASE("constants read back bit for bit", "[ir][parser]") {
  const float f32s[] = {0.0f, -0.0f, 1.5f, 0.1f, 1e-45f, 3.4028235e38f, -1e10f,
                        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  const double f64s[] = {0.0, -0.0, 0.1, 5e-324, 1.7976931348623157e308, -2.5e-300};
  std::string text = "func @k() -> () {\n";
  int n = 0;
  for (float v : f32s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    std::string lit = std::isinf(v) ? (v < 0 ? "-inf" : "inf") : buf;
    text += "  %" + std::to_string(n++) + " = const " + lit + " : f32\n";
  }
  for (double v : f64s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    text += "  %" + std::to_string(n++) + " = const " + std::string(buf) + " : f64\n";
  }
  text += "  %" + std::to_string(n++) + " = const -9223372036854775808 : i64\n";
  text += "  %" + std::to_string(n++) + " = const -2147483648 : i32\n";
  text += "  %" + std::to_string(n++) + " = const -nan : f64\n";
  text += "  return\n}\n";
  kiln::ir::Module m = parse(text);
  const auto& nodes = m.functions[0].nodes;
  size_t k = 0;
  for (float v : f32s) CHECK(std::bit_cast<uint32_t>(v) == static_cast<uint32_t>(nodes[k++].imm));
  for (double v : f64s) CHECK(std::bit_cast<int64_t>(v) == nodes[k++].imm);
  CHECK(nodes[k++].imm == std::numeric_limits<int64_t>::min());
  CHECK(nodes[k++].imm == std::numeric_limits<int32_t>::min());
  CHECK(std::signbit(kiln::ir::const_float(nodes[k])));
  CHECK(std::isnan(kiln::ir::const_float(nodes[k])));
  const std::string printed = print(m);
  CHECK(print(parse(printed)) == printed);
}

TEST_CASE("hostile function names read back", "[ir][parser]") {
  kiln::ir::Module m;
  m.functions.emplace_back();
  kiln::ir::Function& f = m.functions[0];
  f.name = "a \"quoted\"\\ name\nwith a newline";
  f.body = f.add_region();
  const std::string text = print(m);
  CHECK(text.find("\n with") == std::string::npos);  // the newline is escaped
  kiln::ir::Module back = parse(text);
  CHECK(back.functions[0].name == f.name);
  CHECK(print(back) == text);
}

TEST_CASE("malformed IR gives a ParseError at its line and column", "[ir][parser][errors]") {
  struct Case {
    std::string text;
    int line, column;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", 1, 1, "expected 'func', found an empty input"},
      {"fun @f() -> () {\n  return\n}\n", 1, 1, "expected 'func', found 'fun'"},
      {"func f() -> () {\n  return\n}\n", 1, 6, "expected a function name (@name), found 'f'"},
      {"func @f(%x: f16) -> () {\n  return\n}\n", 1, 13, "expected a type"},
      {"func @f() -> () {\n  %0 = add %1, %1 : f32\n  return\n}\n", 2, 12, "use of undefined value %1"},
      {"func @f(%x: f32) -> () {\n  %y = frob %x : f32\n  return\n}\n", 2, 8, "unknown operation 'frob'"},
      {"func @f(%x: f32) -> () {\n  %x = neg %x : f32\n  return\n}\n", 2, 3, "value %x is defined twice"},
      {"func @f(%x: f32, %n: i64) -> () {\n  %y = add %x, %n : f32\n  return\n}\n", 2, 3,
       "'add' needs two int or float operands of the result type, got f32, i64 -> f32"},
      {"func @f() -> () {\n  %c = const 3000000000 : i32\n  return\n}\n", 2, 14, "i32 constant out of range"},
      {"func @f() -> () {\n  %c = const 1.5x : f32\n  return\n}\n", 2, 14, "expected a floating-point constant"},
      {"func @f() -> () {\n  %c = const 1 : tensor<f32, 0x3>\n  return\n}\n", 2, 30, "expected a tensor shape"},
      {"func @f() -> () {\n  %a = call @g() : ()\n  return\n}\n", 2, 13, "call of undefined function @g"},
      {"func @f() -> () {\n  return\n}\nfunc @f() -> () {\n  return\n}\n", 4, 6, "function @f is defined twice"},
      {"func @f(%x: f32) -> () {\n  store %x[%x], %x\n  return\n}\n", 2, 3, "'store' needs a writable buffer"},
      {"func @f(%x: f32) -> () {\n  %s = store %x[%x], %x\n  return\n}\n", 2, 3, "'store' has no result to name"},
      {"func @f(%x: f32) -> (f32) {\n  %c = const true : i1\n  %r = if %c : (f32) {\n    %y = neg %x : f32\n"
       "    yield %y\n  } else {\n    yield %y\n  }\n  %z = get %r, 0 : f32\n  return %z\n}\n",
       3, 3, "%y (neg) is used by"},
      {"func @f(%x: f32) -> (f64) {\n  return %x\n}\n", 1, 1, "result 0 has type f32, declared f64"},
      {"func @f(%x: f32) -> () {\n  %c = const true : i1\n  %r = if %c : (f64) {\n    yield %x\n  } else {\n"
       "    yield %x\n  }\n  return\n}\n",
       3, 3, "'if' gives (f32), the text says (f64)"},
      {"func @f() -> () {\n  check %c, \"unterminated\n", 2, 13, "unterminated string"},
      {"func @f() -> () {\n  %c = const true : i1\n  check %c, \"what\", \"unterminated\n", 3, 21, "unterminated string"},
      {"func @f() -> () {\n  %x = const 1 : i64 #\n", 2, 22, "unexpected character '#'"},
      {"func @f() -> () {\n  %x = const 1 : i64\n", 3, 1, "expected a statement or 'return', found the end of the input"},
      {"func @f(%b: buf<f32>) -> () {\n  %t = tensor.sum %b axes [40] : f32\n  return\n}\n", 2, 27, "axis 40 is out of range"},
  };
  for (const Case& c : cases) {
    INFO("input:\n" << c.text);
    Failure got = parse_failure(c.text);
    INFO("message: " << got.message);
    CHECK(got.line == c.line);
    CHECK(got.column == c.column);
    CHECK(got.message.find(c.says) != std::string::npos);
    CHECK(got.message.rfind("bad.kir:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": ", 0) == 0);
  }
}

// Found by the libFuzzer target (tests/libfuzzer): the last element of a
// slice or embed range, start + step * (n - 1), overflowed int64, so a step
// of 2^62 passed the bounds check (and was undefined behaviour).
TEST_CASE("slice and embed ranges beyond int64 are a ParseError, not an overflow", "[ir][parser][errors]") {
  const std::string head = "func @f(%x: f32) -> () {\n  %t = tensor.splat %x : tensor<f32, 4>\n";
  const std::string tail = "  return\n}\n";
  for (const std::string range : {"[0:4611686018427387904]", "[9223372036854775807:1]", "[1:9223372036854775807]"}) {
    for (const std::string& statements : {"  %v = tensor.slice %t " + range + " : tensor<f32, 3>\n",
                                          "  %s = tensor.splat %x : tensor<f32, 3>\n  %v = tensor.embed %s " + range +
                                              " : tensor<f32, 4>\n"}) {
      const std::string text = head + statements + tail;
      INFO(text);
      Failure got = parse_failure(text);
      CHECK(got.message.find(" elements from ") != std::string::npos);
      CHECK(got.message.find(" out of 4") != std::string::npos);
      CHECK(got.column == 3);
    }
  }
}

// Found by running the libFuzzer target on crafted input: about 700 nested
// `if`s (15 KB) overflowed the stack of its ASan build in the recursive-descent
// parser, 2,400 (50 KB) that of a plain -O0 build.
TEST_CASE("regions nested more than 128 deep are a ParseError, not a stack overflow", "[ir][parser][errors]") {
  auto nested_ifs = [](int n) {
    std::string text = "func @f(%c: i1) -> () {\n";
    for (int i = 0; i < n; ++i) text += "if %c : () {\n";
    text += "yield\n";
    for (int i = 0; i < n; ++i) text += "} else {\nyield\n}\n" + std::string(i + 1 < n ? "yield\n" : "return\n}\n");
    return text;
  };
  kiln::ir::Module deepest = parse(nested_ifs(128));
  CHECK(print(parse(print(deepest))) == print(deepest));
  for (int n : {129, 5000}) {
    Failure got = parse_failure(nested_ifs(n));
    CHECK(got.line == 1 + 129 + 1);  // the first token of the 129th region
    CHECK(got.column == 1);
    CHECK(got.message.find("regions nested more than 128 deep") != std::string::npos);
  }
}
