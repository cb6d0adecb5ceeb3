// The interpreter's tensor ops (ir.h's tensor section) on small shapes,
// checked against values worked out by hand or by plain loops. Tensors come
// in through tensor.load of buffer parameters and go out through
// tensor.store into a writable one, the way staged programs see them.
#include <catch2/catch.hpp>

#include <kiln/error.h>
#include <kiln/ir/ir.h>
#include <kiln/ir/verifier.h>

#include "backends/interp/interpreter.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace kiln::ir;
using kiln::interp::Value;
using Catch::Matchers::Contains;

namespace {

Type tensor(Scalar s, std::vector<int64_t> shape) { return Type::tensor(s, shape); }
const Type i64 = Type::scalar(Scalar::i64);

/// A function built node by node; its parameters are bound in the order
/// they are added.
class Program {
 public:
  Program() {
    f_.name = "tensors";
    f_.body = f_.add_region();
  }

  ValueId param(Type t) {
    ValueId p = f_.add(Op::Param, t, {}, static_cast<int64_t>(f_.params().size()));
    f_.regions[f_.body].params.push_back(p);
    return p;
  }
  ValueId op(Op op, Type t, std::vector<ValueId> args, int64_t imm = 0) {
    ValueId v = f_.add(op, t, std::move(args), imm);
    f_.regions[f_.body].body.push_back(v);
    return v;
  }
  ValueId constant(int64_t x) { return op(Op::Const, i64, {}, x); }
  /// A tensor read from a new read-only buffer parameter (the whole buffer by default).
  ValueId load(Type t, int64_t offset = 0, bool exact = true) {
    ValueId buf = param(Type::buf(t.elem, false));
    return op(Op::TensorLoad, t, {buf, constant(offset)}, exact ? 1 : 0);
  }
  /// Writes t into a new writable buffer parameter (all of it by default).
  void store(ValueId t, int64_t offset = 0, bool exact = true) {
    ValueId buf = param(Type::buf(f_.type(t).elem, true));
    op(Op::TensorStore, Type{}, {t, buf, constant(offset)}, exact ? 1 : 0);
  }
  void yield(ValueId v) {
    f_.regions[f_.body].yields.push_back(v);
    f_.result_types.push_back(f_.type(v));
  }

  std::vector<Value> run(const std::vector<Value>& args) const {
    Module m;
    m.functions.push_back(f_);
    verify(m, "the test's hand-built IR");
    return kiln::interp::run(m, args);
  }

 private:
  Function f_;
};

/// A buffer argument over a container's elements.
template <class C>
Value buffer(C& c) {
  Value v{};
  v.p = c.data();
  v.size = static_cast<int64_t>(c.size());
  return v;
}

/// f(in) for a unary op on one tensor type: load, apply, store.
template <class Out, class In>
std::vector<Out> unary(Op o, Type in_type, Type out_type, std::vector<In> in, int64_t imm = 0) {
  Program p;
  p.store(p.op(o, out_type, {p.load(in_type)}, imm));
  std::vector<Out> out(static_cast<size_t>(numel(out_type)));
  p.run({buffer(in), buffer(out)});
  return out;
}

/// a op b, elementwise on two tensors of one type.
template <class T>
std::vector<T> binary(Op o, Type t, std::vector<T> a, std::vector<T> b) {
  Program p;
  ValueId x = p.load(t), y = p.load(t);
  p.store(p.op(o, t, {x, y}));
  std::vector<T> out(a.size());
  p.run({buffer(a), buffer(b), buffer(out)});
  return out;
}

std::vector<float> iota_f32(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

}  // namespace

// --- elementwise -----------------------------------------------------------

TEST_CASE("elementwise add and mul work element by element on 2x3 tensors", "[interp][tensor]") {
  const Type t = tensor(Scalar::f32, {2, 3});
  std::vector<float> a{1, 2, 3, 4, 5, 6}, b{0.5f, -1, 10, 0.25f, 3, -6};
  CHECK(binary(Op::Add, t, a, b) == std::vector<float>{1.5f, 1, 13, 4.25f, 8, 0});
  CHECK(binary(Op::Mul, t, a, b) == std::vector<float>{0.5f, -2, 30, 1, 15, -36});
}

TEST_CASE("elementwise integer add wraps on i32 tensors", "[interp][tensor]") {
  const Type t = tensor(Scalar::i32, {2});
  CHECK(binary<int32_t>(Op::Add, t, {INT32_MAX, -3}, {1, 5}) == std::vector<int32_t>{INT32_MIN, 2});
}

TEST_CASE("elementwise exp matches the scalar exp of each element", "[interp][tensor]") {
  const Type t = tensor(Scalar::f32, {2, 3});
  std::vector<float> in{0, 1, -1, 0.5f, 2, -20};
  std::vector<float> want;
  for (float x : in) want.push_back(std::exp(x));
  CHECK(unary<float>(Op::Exp, t, t, in) == want);
}

TEST_CASE("elementwise compare gives an i1 tensor", "[interp][tensor]") {
  Program p;
  const Type t = tensor(Scalar::f32, {2, 3});
  ValueId a = p.load(t), b = p.load(t);
  p.store(p.op(Op::Lt, t.with_elem(Scalar::i1), {a, b}));
  std::vector<float> x{1, 5, 3, -1, 0, 2}, y{2, 5, 1, 0, -0.0f, 7};
  std::array<bool, 6> out{};
  p.run({buffer(x), buffer(y), buffer(out)});
  CHECK(out == std::array<bool, 6>{true, false, false, true, false, true});
}

TEST_CASE("elementwise select picks per element by an i1 tensor of the same shape", "[interp][tensor]") {
  Program p;
  const Type t = tensor(Scalar::i64, {2, 3});
  ValueId c = p.load(t.with_elem(Scalar::i1)), a = p.load(t), b = p.load(t);
  p.store(p.op(Op::Select, t, {c, a, b}));
  std::array<bool, 6> cond{true, false, false, true, true, false};
  std::vector<int64_t> x{1, 2, 3, 4, 5, 6}, y{-1, -2, -3, -4, -5, -6}, out(6);
  p.run({buffer(cond), buffer(x), buffer(y), buffer(out)});
  CHECK(out == std::vector<int64_t>{1, -2, -3, 4, 5, -6});
}

TEST_CASE("elementwise cast truncates, saturates and maps NaN to 0 per element", "[interp][tensor]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> in{1.9f, -1.9f, 3e9f, -3e9f, nan, 0};
  // IR spec: float->int truncates toward zero and saturates, NaN becomes 0.
  CHECK(unary<int32_t>(Op::Cast, tensor(Scalar::f32, {2, 3}), tensor(Scalar::i32, {2, 3}), in) ==
        std::vector<int32_t>{1, -1, INT32_MAX, INT32_MIN, 0, 0});
}

TEST_CASE("elementwise integer division by zero traps like the scalar op", "[interp][tensor]") {
  const Type t = tensor(Scalar::i32, {3});
  std::string message;
  try {
    binary<int32_t>(Op::Div, t, {6, 4, 2}, {3, 0, 1});
  } catch (const kiln::RuntimeError& e) {
    message = e.what();
  }
  CHECK_THAT(message, Contains("integer division by zero") && Contains("guard the divisor"));
}

// --- making tensors --------------------------------------------------------

TEST_CASE("a tensor-typed const and tensor.splat fill every element", "[interp][tensor]") {
  Program p;
  const Type t = tensor(Scalar::f64, {2, 2});
  p.store(p.op(Op::Const, t, {}, encode_const(Scalar::f64, 2.5)));
  ValueId x = p.param(Type::scalar(Scalar::f64));
  p.store(p.op(Op::Splat, t, {x}));
  std::vector<double> c(4), s(4);
  Value arg{};
  arg.f64 = -7;
  p.run({buffer(c), arg, buffer(s)});
  CHECK(c == std::vector<double>(4, 2.5));
  CHECK(s == std::vector<double>(4, -7));
}

TEST_CASE("tensor.iota counts 0..n-1 in its element type", "[interp][tensor]") {
  Program p;
  p.store(p.op(Op::Iota, tensor(Scalar::i32, {4}), {}));
  p.store(p.op(Op::Iota, tensor(Scalar::f64, {3}), {}));
  std::vector<int32_t> a(4);
  std::vector<double> b(3);
  p.run({buffer(a), buffer(b)});
  CHECK(a == std::vector<int32_t>{0, 1, 2, 3});
  CHECK(b == std::vector<double>{0, 1, 2});
}

// --- views -----------------------------------------------------------------

TEST_CASE("tensor.broadcast of [3] to [2,3] repeats the row", "[interp][tensor]") {
  CHECK(unary<float>(Op::Broadcast, tensor(Scalar::f32, {3}), tensor(Scalar::f32, {2, 3}),
                     std::vector<float>{1, 2, 3}) == std::vector<float>{1, 2, 3, 1, 2, 3});
}

TEST_CASE("tensor.broadcast of [2,1] to [2,3] stretches the extent-1 axis", "[interp][tensor]") {
  CHECK(unary<float>(Op::Broadcast, tensor(Scalar::f32, {2, 1}), tensor(Scalar::f32, {2, 3}),
                     std::vector<float>{1, 2}) == std::vector<float>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("tensor.broadcast adds leading axes and stretches inner ones together", "[interp][tensor]") {
  // [2,1] -> [2,2,3]: out[a][b][c] = in[b][0].
  std::vector<int64_t> want;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c) want.push_back(b == 0 ? 10 : 20);
  CHECK(unary<int64_t>(Op::Broadcast, tensor(Scalar::i64, {2, 1}), tensor(Scalar::i64, {2, 2, 3}),
                       std::vector<int64_t>{10, 20}) == want);
}

TEST_CASE("tensor.transpose of a 2x3 tensor swaps rows and columns", "[interp][tensor]") {
  CHECK(unary<float>(Op::Transpose, tensor(Scalar::f32, {2, 3}), tensor(Scalar::f32, {3, 2}),
                     std::vector<float>{1, 2, 3, 4, 5, 6}, intern_ints({1, 0})) ==
        std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("tensor.transpose of a 3-D tensor: result axis k is operand axis perm[k]", "[interp][tensor]") {
  // in: [2,3,4]; perm {2,0,1} gives [4,2,3] with out[a][b][c] = in[b][c][a].
  std::vector<float> in = iota_f32(24), want;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c) want.push_back(in[static_cast<size_t>((b * 3 + c) * 4 + a)]);
  CHECK(unary<float>(Op::Transpose, tensor(Scalar::f32, {2, 3, 4}), tensor(Scalar::f32, {4, 2, 3}), in,
                     intern_ints({2, 0, 1})) == want);
}

TEST_CASE("tensor.reshape keeps the row-major order", "[interp][tensor]") {
  std::vector<float> in{1, 2, 3, 4, 5, 6};
  CHECK(unary<float>(Op::Reshape, tensor(Scalar::f32, {2, 3}), tensor(Scalar::f32, {3, 2}), in) == in);
  CHECK(unary<float>(Op::Reshape, tensor(Scalar::f32, {2, 3}), tensor(Scalar::f32, {6}), in) == in);
}

TEST_CASE("tensor.slice takes start + step * i along each axis", "[interp][tensor]") {
  // in: 4x5 of 0..19; rows 1, 3 (start 1, step 2); columns 0, 2, 4 (start 0, step 2).
  CHECK(unary<float>(Op::Slice, tensor(Scalar::f32, {4, 5}), tensor(Scalar::f32, {2, 3}), iota_f32(20),
                     intern_ints({1, 2, 0, 2})) == std::vector<float>{5, 7, 9, 15, 17, 19});
}

TEST_CASE("tensor.embed places the operand at the slice's positions of a zero tensor", "[interp][tensor]") {
  const std::vector<float> want{0, 0, 0, 0, 0,  //
                                1, 0, 2, 0, 3,  //
                                0, 0, 0, 0, 0,  //
                                4, 0, 5, 0, 6};
  CHECK(unary<float>(Op::Embed, tensor(Scalar::f32, {2, 3}), tensor(Scalar::f32, {4, 5}),
                     std::vector<float>{1, 2, 3, 4, 5, 6}, intern_ints({1, 2, 0, 2})) == want);
}

TEST_CASE("tensor.slice of tensor.embed with the same bounds gives the operand back", "[interp][tensor]") {
  Program p;
  const uint32_t bounds = intern_ints({2, 1, 1, 3});
  ValueId x = p.load(tensor(Scalar::i32, {2, 2}));
  ValueId big = p.op(Op::Embed, tensor(Scalar::i32, {5, 7}), {x}, bounds);
  p.store(p.op(Op::Slice, tensor(Scalar::i32, {2, 2}), {big}, bounds));
  std::vector<int32_t> in{7, -8, 9, 10}, out(4);
  p.run({buffer(in), buffer(out)});
  CHECK(out == in);
}

// --- reductions ------------------------------------------------------------

TEST_CASE("tensor.sum over one axis of a 2x3 tensor", "[interp][tensor]") {
  const Type t = tensor(Scalar::f32, {2, 3});
  std::vector<float> in{1, 2, 3, 4, 5, 6};
  CHECK(unary<float>(Op::ReduceSum, t, tensor(Scalar::f32, {3}), in, 0b01) == std::vector<float>{5, 7, 9});
  CHECK(unary<float>(Op::ReduceSum, t, tensor(Scalar::f32, {2}), in, 0b10) == std::vector<float>{6, 15});
}

TEST_CASE("tensor.max over one axis of a 2x3 tensor", "[interp][tensor]") {
  const Type t = tensor(Scalar::i64, {2, 3});
  std::vector<int64_t> in{1, 9, -3, 4, -5, 6};
  CHECK(unary<int64_t>(Op::ReduceMax, t, tensor(Scalar::i64, {3}), in, 0b01) == std::vector<int64_t>{4, 9, 6});
  CHECK(unary<int64_t>(Op::ReduceMax, t, tensor(Scalar::i64, {2}), in, 0b10) == std::vector<int64_t>{9, 6});
}

TEST_CASE("tensor.sum and tensor.max over every axis give scalars", "[interp][tensor]") {
  Program p;
  const Type t = tensor(Scalar::f64, {2, 3});
  ValueId x = p.load(t);
  p.yield(p.op(Op::ReduceSum, Type::scalar(Scalar::f64), {x}, 0b11));
  p.yield(p.op(Op::ReduceMax, Type::scalar(Scalar::f64), {x}, 0b11));
  std::vector<double> in{1, 2, -30, 4, 5.5, 6};
  std::vector<Value> r = p.run({buffer(in)});
  REQUIRE(r.size() == 2);
  CHECK(r[0].f64 == -11.5);
  CHECK(r[1].f64 == 6);
}

TEST_CASE("tensor.sum adds in row-major order, one rounding per element", "[interp][tensor]") {
  // Sequentially: (1e8 + 1) rounds to 1e8, - 1e8 gives 0, + 1 gives 1.
  // Pairwise summation would give 0, a reversed order 0 as well.
  Program p;
  p.yield(p.op(Op::ReduceSum, Type::scalar(Scalar::f32), {p.load(tensor(Scalar::f32, {4}))}, 1));
  std::vector<float> in{1e8f, 1, -1e8f, 1};
  CHECK(p.run({buffer(in)})[0].f32 == 1.0f);
}

TEST_CASE("tensor.sum of integers wraps", "[interp][tensor]") {
  Program p;
  p.yield(p.op(Op::ReduceSum, Type::scalar(Scalar::i32), {p.load(tensor(Scalar::i32, {3}))}, 1));
  std::vector<int32_t> in{INT32_MAX, 1, 1};
  CHECK(p.run({buffer(in)})[0].i == INT32_MIN + 1);
}

TEST_CASE("tensor.sum over non-adjacent axes of a 3-D tensor matches a plain loop", "[interp][tensor]") {
  // [2,3,4], mask 0b101 reduces axes 0 and 2 and keeps axis 1.
  std::vector<float> in;
  for (int i = 0; i < 24; ++i) in.push_back(0.1f * static_cast<float>(i * i % 7) - 0.3f);
  std::vector<float> want(3);
  for (int b = 0; b < 3; ++b) {
    float acc = in[static_cast<size_t>(b * 4)];  // starts at the first element: a then c, row-major
    for (int a = 0; a < 2; ++a)
      for (int c = 0; c < 4; ++c)
        if (a != 0 || c != 0) acc = acc + in[static_cast<size_t>((a * 3 + b) * 4 + c)];
    want[static_cast<size_t>(b)] = acc;
  }
  CHECK(unary<float>(Op::ReduceSum, tensor(Scalar::f32, {2, 3, 4}), tensor(Scalar::f32, {3}), in, 0b101) == want);
}

// --- matmul ----------------------------------------------------------------

namespace {

// A[m,k] * B[k,n] the way the IR defines it: from +0, k ascending, product
// and sum rounded separately (volatile keeps the compiler from fusing them).
template <class T>
std::vector<T> plain_matmul(const std::vector<T>& a, const std::vector<T>& b, int m, int k, int n) {
  std::vector<T> c(static_cast<size_t>(m * n));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T acc = 0;
      for (int p = 0; p < k; ++p) {
        volatile T prod = a[static_cast<size_t>(i * k + p)] * b[static_cast<size_t>(p * n + j)];
        acc = acc + prod;
      }
      c[static_cast<size_t>(i * n + j)] = acc;
    }
  return c;
}

template <class T>
std::vector<T> some_values(int n, int seed) {
  std::vector<T> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<T>(((i * 37 + seed * 11) % 23) - 11) / T(7));
  return v;
}

template <class T>
std::vector<T> run_matmul(Scalar s, std::vector<int64_t> sa, std::vector<int64_t> sb, std::vector<int64_t> sc,
                          std::vector<T> a, std::vector<T> b) {
  Program p;
  ValueId x = p.load(tensor(s, sa)), y = p.load(tensor(s, sb));
  p.store(p.op(Op::Matmul, tensor(s, sc), {x, y}));
  std::vector<T> c(static_cast<size_t>(numel(tensor(s, sc))));
  p.run({buffer(a), buffer(b), buffer(c)});
  return c;
}

}  // namespace

TEST_CASE("tensor.matmul of 2-D f64 tensors equals a plain triple loop", "[interp][tensor]") {
  std::vector<double> a = some_values<double>(12, 1), b = some_values<double>(20, 2);
  CHECK(run_matmul<double>(Scalar::f64, {3, 4}, {4, 5}, {3, 5}, a, b) == plain_matmul(a, b, 3, 4, 5));
}

TEST_CASE("tensor.matmul of 2-D f32 tensors rounds like a float loop", "[interp][tensor]") {
  std::vector<float> a = some_values<float>(12, 3), b = some_values<float>(20, 4);
  std::vector<float> c = run_matmul<float>(Scalar::f32, {3, 4}, {4, 5}, {3, 5}, a, b);
  CHECK(c == plain_matmul(a, b, 3, 4, 5));
  // And close to the exact product (computed in double).
  std::vector<double> da(a.begin(), a.end()), db(b.begin(), b.end());
  std::vector<double> exact = plain_matmul(da, db, 3, 4, 5);
  for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] == Approx(exact[i]).margin(1e-5));
}

TEST_CASE("tensor.matmul of 3-D tensors multiplies each batch", "[interp][tensor]") {
  // [2,2,3] x [2,3,2]: two independent 2x3 by 3x2 products.
  std::vector<double> a = some_values<double>(12, 5), b = some_values<double>(12, 6), want;
  for (size_t batch = 0; batch < 2; ++batch) {
    std::vector<double> ab(a.begin() + 6 * batch, a.begin() + 6 * (batch + 1));
    std::vector<double> bb(b.begin() + 6 * batch, b.begin() + 6 * (batch + 1));
    for (double x : plain_matmul(ab, bb, 2, 3, 2)) want.push_back(x);
  }
  CHECK(run_matmul<double>(Scalar::f64, {2, 2, 3}, {2, 3, 2}, {2, 2, 2}, a, b) == want);
}

// --- tensor.load / tensor.store --------------------------------------------

TEST_CASE("tensor.load and tensor.store honour their offsets", "[interp][tensor]") {
  Program p;
  ValueId x = p.load(tensor(Scalar::i32, {2, 2}), 3, false);
  p.store(x, 5, false);
  std::vector<int32_t> in{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, out(10, -1);
  p.run({buffer(in), buffer(out)});
  CHECK(out == std::vector<int32_t>{-1, -1, -1, -1, -1, 3, 4, 5, 6, -1});
}

TEST_CASE("tensor.load and tensor.store reach the buffer's last element", "[interp][tensor]") {
  Program p;
  p.store(p.load(tensor(Scalar::f32, {3}), 2, false), 1, false);
  std::vector<float> in{1, 2, 3, 4, 5}, out(4);
  p.run({buffer(in), buffer(out)});
  CHECK(out == std::vector<float>{0, 3, 4, 5});
}

TEST_CASE("tensor.load with the exact flag reads a buffer of exactly numel elements", "[interp][tensor]") {
  Program p;
  p.store(p.load(tensor(Scalar::f64, {2, 3})));
  std::vector<double> in{1, 2, 3, 4, 5, 6}, out(6);
  p.run({buffer(in), buffer(out)});
  CHECK(out == in);
}

// --- traps -----------------------------------------------------------------

namespace {

// A program that copies a 2x3 f32 tensor from one buffer to another.
std::string copy_trap(int64_t load_offset, bool load_exact, int64_t store_offset, bool store_exact, size_t in_size,
                      size_t out_size) {
  Program p;
  p.store(p.load(tensor(Scalar::f32, {2, 3}), load_offset, load_exact), store_offset, store_exact);
  std::vector<float> in(in_size), out(out_size);
  try {
    p.run({buffer(in), buffer(out)});
  } catch (const kiln::RuntimeError& e) {
    return e.what();
  }
  FAIL_CHECK("expected a kiln::RuntimeError, none was thrown");
  return "";
}

}  // namespace

TEST_CASE("tensor.load past the buffer's end traps, naming the shape", "[interp][tensor]") {
  CHECK_THAT(copy_trap(8, false, 0, false, 10, 6),
             Contains("tensor.load of a 2x3 tensor at offset 8 needs 14 elements, the buffer has 10") &&
                 Contains("2*3 elements"));
}

TEST_CASE("tensor.load at a negative offset traps", "[interp][tensor]") {
  CHECK_THAT(copy_trap(-1, false, 0, false, 10, 6), Contains("tensor.load of a 2x3 tensor at offset -1"));
}

TEST_CASE("tensor.load with the exact flag traps on a larger buffer", "[interp][tensor]") {
  CHECK_THAT(copy_trap(0, true, 0, false, 7, 6),
             Contains("tensor.load of a 2x3 tensor") && Contains("exactly 6 elements") && Contains("has 7"));
}

TEST_CASE("tensor.load with the exact flag traps at a nonzero offset", "[interp][tensor]") {
  CHECK_THAT(copy_trap(2, true, 0, false, 6, 6), Contains("tensor.load of a 2x3 tensor") && Contains("offset 0, got 2"));
}

TEST_CASE("tensor.store past the buffer's end traps and writes nothing", "[interp][tensor]") {
  CHECK_THAT(copy_trap(0, false, 1, false, 6, 6),
             Contains("tensor.store of a 2x3 tensor at offset 1 needs 7 elements, the buffer has 6"));
  Program p;
  p.store(p.load(tensor(Scalar::f32, {2, 3})), 1, false);
  std::vector<float> in(6, 1), out(6, 0);
  CHECK_THROWS_AS(p.run({buffer(in), buffer(out)}), kiln::RuntimeError);
  CHECK(out == std::vector<float>(6, 0));
}

TEST_CASE("tensor.store with the exact flag traps on a smaller buffer", "[interp][tensor]") {
  CHECK_THAT(copy_trap(0, true, 0, true, 6, 5), Contains("tensor.store of a 2x3 tensor") && Contains("exactly 6"));
}
