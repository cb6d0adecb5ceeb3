// The kiln IR: typed SSA values in structured regions. For pass writers.
//
// Semantics (the contract every pass, emitter and backend keeps; docs/ir.md
// has the long form):
//
// * A Function owns a node table and a region table. A value is the index of
//   the node that defines it. A Region is a parameter list, an ordered body
//   and the values it yields. The function body is a region whose parameters
//   are the function's parameters and whose yields are its results.
// * Evaluation order is the body order. Pure nodes may be reordered, merged
//   or dropped by passes; effectful nodes (load, store, call, var.load,
//   var.store) keep their relative order. Loads do not write, so a load whose
//   value is unused may be dropped.
// * if, for, while and calls produce a tuple; `get` projects element i.
//   Tuple element types are derived, never stored. parallel_for has no result.
// * Integer div and rem are pure but may trap: passes may merge them or drop
//   them when unused, but never speculate them (move them to where they would
//   run when the program would not have run them, e.g. out of an if or out of
//   a loop that may run zero times). Loads likewise (out of bounds traps).
// * A loop whose results are unused and whose regions write no memory may be
//   dropped, even one that would trap (step 0) or not terminate: like C++'s
//   forward-progress rule, a program may not rely on an effect-free loop to
//   hang or trap. A loop whose results are used keeps its trap. An unused
//   call to a function that writes no memory may be dropped likewise.
// * Integers are two's complement; + - * wrap. Division or remainder by zero
//   is a trap (the interpreter raises kiln::RuntimeError). INT_MIN / -1 wraps
//   to INT_MIN and INT_MIN % -1 is 0. Shift counts are taken modulo the bit
//   width; >> is arithmetic.
// * Floats are IEEE-754 binary32/binary64, round to nearest, no contraction
//   of a*b+c (fma is its own op), no reassociation. min(a,b) is `b < a ? b : a`,
//   max(a,b) is `a < b ? b : a` (C++'s std::min/std::max).
// * cast: int->int wraps; int->float rounds to nearest; float->int truncates
//   toward zero and saturates, NaN becomes 0; anything->i1 is `!= 0`;
//   i1->number is 0 or 1.
// * for lo, hi, step: step > 0 runs while i < hi, step < 0 while i > hi;
//   step == 0 traps. parallel_for iterations must be independent.
// * while: the cond region gets the carried values and yields (c, v...); if c
//   is false the op's results are v..., otherwise the body region gets v...
//   and yields the next carried values.
// * tape.push / tape.pop (made by reverse-mode autodiff) push a scalar onto,
//   and pop one off, the calling thread's tape number imm: a stack of 64-bit
//   words per tape level and thread, shared by every function the thread
//   runs. A pop gives the bits of the matching push, read as its own type.
//   Both write state: they keep their order and are never dropped.
//   tape.reserve n : buf<T> appends room for n elements of T (whole words)
//   to the tape and gives a writable buffer over it; tape.release n pops
//   that room again and gives the buffer over what it holds. A buffer from
//   either is valid until the next push, reserve or pop of that tape.
// * Tensors (docs/tensors.md) are immutable values with a static shape,
//   row-major. Every elementwise op (the unary, binary, compare, cast, fma
//   and select shapes) also takes tensors of one shape and works element by
//   element; a tensor-typed const is a splat of its value. tensor.splat
//   fills a tensor with a scalar; tensor.iota gives 0, 1, ... n-1;
//   tensor.const lists every element (imm: ints id of their const encodings).
//   Views: tensor.broadcast follows NumPy (shapes aligned on the right, an
//   extent 1 stretches); tensor.transpose permutes axes (imm: ints id of
//   the permutation, result axis k is operand axis perm[k]);
//   tensor.reshape keeps the row-major order; tensor.slice takes
//   start + step * i along each axis (imm: ints id of start0, step0,
//   start1, step1, ...; the result type gives the extents); tensor.embed
//   is its adjoint, the operand placed at those positions of a zero tensor
//   of the result type. tensor.sum / tensor.max reduce the axes in the imm
//   bit mask in row-major order (a scalar result when every axis goes; max
//   as the max op). tensor.matmul multiplies the last two axes, the
//   leading (batch) axes equal, summing k in increasing order with a*b+c
//   rounded twice. tensor.load reads numel elements of a buffer from an
//   offset, tensor.store writes them; both trap when they do not fit (imm
//   1: the buffer must hold exactly numel elements). alloc n gives a fresh
//   writable buffer of n elements, uninitialised, live until the function
//   returns. check c traps with its message when c is false (tensor
//   lowering's shape checks at call time). Tensor lowering (codegen/lower) turns all of these into loops
//   over buffers before any backend sees them; only alloc, check and
//   gemm remain. gemm a, a_off, b, b_off, c {m, k, n} writes the m x n
//   row-major product of a[a_off..] (m x k) and b[b_off..] (k x n) into
//   c[0..m*n), summing in an unspecified order with unspecified
//   contraction: lowering makes it only under Options::fast_math. With
//   {m, k, n, ta, tb}, ta = 1 says a holds A transposed (k x m), tb = 1
//   that b holds B transposed (n x k): a transposed operand is read where
//   it is, not copied.
// * disjoint a, b : i1 is true iff the byte ranges of the two buffers'
//   elements, [data(a), data(a) + size(a) * sizeof(elem a)) and likewise
//   for b, do not overlap: an empty buffer is disjoint from every buffer, a
//   non-empty one is not disjoint from itself. It reads addresses, not
//   contents (pure), and has no derivative. Run-time checks that two
//   buffers do not alias are `check (disjoint a, b)`.
// * var.load / var.store name a staging variable ($n). They exist only
//   between staging and the promote-variables pass, which turns them into
//   if-results and loop-carried values.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::ir {

/// Scalar element types, printed as i1 i32 i64 f32 f64.
enum class Scalar : uint8_t { i1, i32, i64, f32, f64 };

/// What a value is: nothing, a scalar, a buffer of scalars, a tuple, or a
/// tensor (an immutable array value with a static shape).
enum class TypeKind : uint8_t { void_, scalar, buf, tuple, tensor };

/// Interned lists of integers: tensor shapes and tensor-op attributes
/// (permutations, slice bounds). An id names one list for the life of the
/// process; equal lists have equal ids, so types compare by id. Id 0 is
/// the empty list. Thread-safe.
uint32_t intern_ints(const std::vector<int64_t>& xs);
/// The list an id names (a copy: the table may grow on another thread).
std::vector<int64_t> ints(uint32_t id);

/// A value's type. Buffers are read-write (`buf<f32>`) or read-only
/// (`buf<const f32>`). Tuple element types are derived from the producing node.
/// A tensor `tensor<f32, 64x128>` has element type `elem` and the shape
/// `ints(dims)` (rank >= 1, every extent >= 1).
struct Type {
  TypeKind kind = TypeKind::void_;
  Scalar elem = Scalar::i1;
  bool writable = false;
  uint32_t dims = 0;

  static Type scalar(Scalar s) { return {TypeKind::scalar, s, false, 0}; }
  static Type buf(Scalar s, bool writable) { return {TypeKind::buf, s, writable, 0}; }
  static Type tuple() { return {TypeKind::tuple, Scalar::i1, false, 0}; }
  static Type tensor(Scalar s, const std::vector<int64_t>& shape) {
    return {TypeKind::tensor, s, false, intern_ints(shape)};
  }
  static Type tensor_of(Scalar s, uint32_t dims) { return {TypeKind::tensor, s, false, dims}; }
  bool is_tensor() const { return kind == TypeKind::tensor; }
  /// The element type of a tensor, or a scalar type itself.
  Type element() const { return scalar(elem); }
  /// The same kind (scalar or tensor of the same shape) with element s.
  Type with_elem(Scalar s) const { return {kind, s, false, dims}; }
  /// A scalar, or a tensor: what elementwise ops take.
  bool is_elementwise() const { return kind == TypeKind::scalar || kind == TypeKind::tensor; }
  bool is_float_elementwise() const { return is_elementwise() && (elem == Scalar::f32 || elem == Scalar::f64); }
  bool is_scalar() const { return kind == TypeKind::scalar; }
  bool is_int() const { return is_scalar() && (elem == Scalar::i32 || elem == Scalar::i64); }
  bool is_float() const { return is_scalar() && (elem == Scalar::f32 || elem == Scalar::f64); }
  bool is_bool() const { return is_scalar() && elem == Scalar::i1; }
  bool operator==(const Type&) const = default;
};

/// "f32", "buf<const f64>", "tuple", "void".
std::string to_string(Type t);
std::string_view to_string(Scalar s);
/// The shape of a tensor type, and its element count.
std::vector<int64_t> shape(Type t);
int64_t numel(Type t);
/// "64x128".
std::string shape_text(const std::vector<int64_t>& shape);
/// Bits of a scalar type: 1, 32 or 64.
int bit_width(Scalar s);
/// Bytes of one buffer element of scalar type s (i1 is a C++ bool).
size_t byte_width(Scalar s);

/// How an op treats the world.
enum class Effect : uint8_t {
  pure,        // no effects; equal nodes with equal operands are equal values
  effect,      // reads or writes memory or staging variables; keeps its order
  structured,  // owns regions; effects are those of its regions
};

/// How an op's operands are typed; the verifier and the node factory check
/// operands by this column.
enum class Shape : uint8_t {
  leaf,         // no operands (const, param)
  unary_num,    // x: int or float; result: same (neg, abs)
  unary_float,  // x: float; result: same
  unary_bits,   // x: int or i1; result: same (not: bitwise, logical on i1)
  cast,         // x: scalar; result: any scalar
  binary_num,   // a, b: same int or float type; result: same
  binary_float, // a, b: same float type; result: same
  binary_bits,  // a, b: same int or i1 type; result: same
  shift,        // a, b: same int type; result: same
  compare,      // a, b: same scalar type; result: i1
  fma,          // a, b, c: same float type
  select,       // c: i1; a, b: same scalar type
  size,         // buffer -> i64
  disjoint,     // a, b: buffers (any element types, const or writable) -> i1
  load,         // buffer, i64 index -> element
  store,        // writable buffer, i64 index, element value -> void
  var_load,     // imm: variable id (tape level) -> scalar
  var_store,    // imm: variable id (tape level); value -> void
  call,         // imm: callee index in the module; args -> tuple
  get,          // tuple, imm: index -> element type
  if_,          // c: i1; regions then, else -> tuple
  for_,         // lo, hi, step: same int type; inits... ; region body(i, carried...) -> tuple
  while_,       // inits... ; regions cond(carried...) -> (i1, v...), body(v...) -> carried -> tuple
  parallel_for, // lo, hi, step: same int type; region body(i) -> void
  tape_buffer,  // imm: tape level; n: i64 -> writable buffer (tape.reserve, tape.release)
  alloc,        // imm: element count -> writable buffer (tensor lowering's temporaries)
  check,        // c: i1; imm: message id (intern_message) -> void; traps when c is false
  gemm,         // a, a_off: i64, b, b_off: i64, c: writable; one float element type; imm: ints id {m, k, n} -> void
  splat,        // x: scalar -> tensor of x's type
  iota,         // -> 1-D tensor, element i is i
  dense,        // imm: ints id of the elements' constant encodings -> tensor
  tensor_view,  // x: tensor -> tensor of x's element type (broadcast, transpose, reshape, slice, embed)
  reduce,       // x: tensor; imm: axis bit mask -> tensor (or scalar when every axis goes)
  matmul,       // a: [..., m, k], b: [..., k, n] of one float type -> [..., m, n]
  tensor_load,  // buffer, i64 offset -> tensor of its element type
  tensor_store, // tensor, writable buffer, i64 offset -> void
};

// Every IR op is listed here once. Printing, hashing, equality and the
// verifier's operand checks are derived from this table; docs/adding-a-node.md
// is the checklist for a new row.
//   X(Name, spelling, effect, shape, operand count (-1: variadic), regions)
#define KILN_IR_OPS(X)                                         \
  X(Const, "const", pure, leaf, 0, 0)                          \
  X(Param, "param", pure, leaf, 0, 0)                          \
  X(Neg, "neg", pure, unary_num, 1, 0)                         \
  X(Abs, "abs", pure, unary_num, 1, 0)                         \
  X(Not, "not", pure, unary_bits, 1, 0)                        \
  X(Sqrt, "sqrt", pure, unary_float, 1, 0)                     \
  X(Exp, "exp", pure, unary_float, 1, 0)                       \
  X(Log, "log", pure, unary_float, 1, 0)                       \
  X(Sin, "sin", pure, unary_float, 1, 0)                       \
  X(Cos, "cos", pure, unary_float, 1, 0)                       \
  X(Tanh, "tanh", pure, unary_float, 1, 0)                     \
  X(Floor, "floor", pure, unary_float, 1, 0)                   \
  X(Cast, "cast", pure, cast, 1, 0)                            \
  X(Add, "add", pure, binary_num, 2, 0)                        \
  X(Sub, "sub", pure, binary_num, 2, 0)                        \
  X(Mul, "mul", pure, binary_num, 2, 0)                        \
  X(Div, "div", pure, binary_num, 2, 0)                        \
  X(Rem, "rem", pure, binary_num, 2, 0)                        \
  X(Min, "min", pure, binary_num, 2, 0)                        \
  X(Max, "max", pure, binary_num, 2, 0)                        \
  X(Pow, "pow", pure, binary_float, 2, 0)                      \
  X(And, "and", pure, binary_bits, 2, 0)                       \
  X(Or, "or", pure, binary_bits, 2, 0)                         \
  X(Xor, "xor", pure, binary_bits, 2, 0)                       \
  X(Shl, "shl", pure, shift, 2, 0)                             \
  X(Shr, "shr", pure, shift, 2, 0)                             \
  X(Eq, "eq", pure, compare, 2, 0)                             \
  X(Ne, "ne", pure, compare, 2, 0)                             \
  X(Lt, "lt", pure, compare, 2, 0)                             \
  X(Le, "le", pure, compare, 2, 0)                             \
  X(Gt, "gt", pure, compare, 2, 0)                             \
  X(Ge, "ge", pure, compare, 2, 0)                             \
  X(Fma, "fma", pure, fma, 3, 0)                               \
  X(Select, "select", pure, select, 3, 0)                      \
  X(Size, "size", pure, size, 1, 0)                            \
  X(Disjoint, "disjoint", pure, disjoint, 2, 0)                \
  X(Get, "get", pure, get, 1, 0)                               \
  X(Load, "load", effect, load, 2, 0)                          \
  X(Store, "store", effect, store, 3, 0)                       \
  X(VarLoad, "var.load", effect, var_load, 0, 0)               \
  X(VarStore, "var.store", effect, var_store, 1, 0)            \
  X(TapePush, "tape.push", effect, var_store, 1, 0)            \
  X(TapePop, "tape.pop", effect, var_load, 0, 0)               \
  X(TapeReserve, "tape.reserve", effect, tape_buffer, 1, 0)    \
  X(TapeRelease, "tape.release", effect, tape_buffer, 1, 0)    \
  X(Call, "call", effect, call, -1, 0)                         \
  X(Alloc, "alloc", effect, alloc, 0, 0)                       \
  X(Check, "check", effect, check, 1, 0)                       \
  X(Gemm, "gemm", effect, gemm, 5, 0)                          \
  X(Splat, "tensor.splat", pure, splat, 1, 0)                  \
  X(Iota, "tensor.iota", pure, iota, 0, 0)                     \
  X(TensorConst, "tensor.const", pure, dense, 0, 0)            \
  X(Broadcast, "tensor.broadcast", pure, tensor_view, 1, 0)    \
  X(Transpose, "tensor.transpose", pure, tensor_view, 1, 0)    \
  X(Reshape, "tensor.reshape", pure, tensor_view, 1, 0)        \
  X(Slice, "tensor.slice", pure, tensor_view, 1, 0)            \
  X(Embed, "tensor.embed", pure, tensor_view, 1, 0)            \
  X(ReduceSum, "tensor.sum", pure, reduce, 1, 0)               \
  X(ReduceMax, "tensor.max", pure, reduce, 1, 0)               \
  X(Matmul, "tensor.matmul", pure, matmul, 2, 0)               \
  X(TensorLoad, "tensor.load", effect, tensor_load, 2, 0)      \
  X(TensorStore, "tensor.store", effect, tensor_store, 3, 0)   \
  X(If, "if", structured, if_, 1, 2)                           \
  X(For, "for", structured, for_, -1, 1)                       \
  X(While, "while", structured, while_, -1, 2)                 \
  X(ParallelFor, "parallel_for", structured, parallel_for, 3, 1)

enum class Op : uint8_t {
#define KILN_X(name, spelling, effect, shape, nargs, nregions) name,
  KILN_IR_OPS(KILN_X)
#undef KILN_X
};

/// One row of the op table.
struct OpInfo {
  std::string_view spelling;
  Effect effect;
  Shape shape;
  int nargs;  // -1: variadic
  int nregions;
};
const OpInfo& info(Op op);
/// Every op, in table order (for tests that walk the table).
const std::vector<Op>& all_ops();

using ValueId = uint32_t;
using RegionId = uint32_t;
inline constexpr ValueId no_value = UINT32_MAX;

/// A node: plain data. Staging never changes a node once built; passes edit
/// nodes of their own copy of a module in place (codegen/passes/rewrite.h). `imm` holds the op's attribute:
/// a constant's bits (integers sign-extended, floats as their IEEE bits), a
/// parameter's position, a `get` index, a staging variable id, a callee index.
struct Node {
  Op op = Op::Const;
  Type type;
  std::vector<ValueId> args;
  std::vector<RegionId> regions;
  int64_t imm = 0;
  std::source_location loc;
};

/// An ordered list of nodes with parameters and yielded values.
struct Region {
  std::vector<ValueId> params;
  std::vector<ValueId> body;
  std::vector<ValueId> yields;
};

/// A function: node and region tables plus the body region. Nodes not listed
/// in any region are garbage (passes rebuild rather than delete).
struct Function {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Region> regions;
  RegionId body = 0;
  std::vector<Type> result_types;
  /// The user's names for the parameters (kiln::stage("f", {"a", "x"}, ...));
  /// empty, or one per parameter. Emitters name parameters after them.
  std::vector<std::string> param_names;
  /// A custom reverse-mode rule (kiln::custom_vjp): the index in the module
  /// of the function reverse mode calls instead of differentiating this
  /// one, or -1. The rule takes this function's parameters, then one
  /// cotangent per floating-point result, and returns the gradient of each
  /// floating-point parameter. Only functions of scalars have rules.
  int64_t custom_vjp = -1;

  const Node& node(ValueId v) const { return nodes[v]; }
  const Region& region(RegionId r) const { return regions[r]; }
  const std::vector<ValueId>& params() const { return regions[body].params; }
  Type type(ValueId v) const { return nodes[v].type; }

  /// The one node factory: checks operand types against the op table and
  /// throws kiln::InternalError on a mismatch. Does not place the node in a
  /// region; append the id to a region's body (or params) yourself.
  ValueId add(Op op, Type type, std::vector<ValueId> args, int64_t imm = 0,
              std::source_location loc = {}, std::vector<RegionId> regions = {});
  /// A new empty region.
  RegionId add_region();
};

/// A set of functions; functions[0] is the entry point. Calls name callees
/// by index.
struct Module {
  std::vector<Function> functions;
};

/// Types of the elements of a tuple-producing node (if, for, while, call).
std::vector<Type> tuple_types(const Module& m, const Function& f, const Node& n);

/// Constant helpers: a constant node's value as int64 or double.
int64_t const_int(const Node& n);
double const_float(const Node& n);
/// The `imm` encoding of a number as a constant of scalar type s.
int64_t encode_const(Scalar s, double value);
int64_t encode_const_int(Scalar s, int64_t value);

/// Ops that change state a later op may observe: store and the tape ops.
/// (Calls and structured ops write what their callees and regions write.)
inline bool writes_state(Op op) {
  return op == Op::Store || op == Op::TensorStore || op == Op::Check || op == Op::Gemm || op == Op::TapePush || op == Op::TapePop || op == Op::TapeReserve || op == Op::TapeRelease;
}
/// The tape ops.
inline bool is_tape_op(Op op) {
  return op == Op::TapePush || op == Op::TapePop || op == Op::TapeReserve || op == Op::TapeRelease;
}

/// A check's message: what went wrong and what to do, kept in the ints
/// table (one int per byte); message() gives the two parts back.
int64_t intern_message(const std::string& what, const std::string& remedy);
std::pair<std::string, std::string> message(int64_t id);

/// A gemm's attribute, decoded: C (m x n) = A (m x k) B (k x n), with A
/// stored transposed when trans_a, B when trans_b.
struct GemmShape {
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
};
/// gemm's imm for a shape: the ints id of {m, k, n}, or of {m, k, n, ta, tb}
/// when an operand is transposed.
int64_t gemm_attribute(const GemmShape& g);
/// The shape a gemm's imm names (the verifier checks it is well formed).
GemmShape gemm_shape(int64_t imm);

/// Tensor ops, which tensor lowering removes (alloc stays).
inline bool is_tensor_op(Op op) { return op >= Op::Splat && op <= Op::TensorStore; }

/// Permutations, reduce masks, slices: the attribute of a tensor op.
/// tensor.reduce keeps axes whose bit is clear in the mask.
inline bool reduces_axis(int64_t mask, size_t axis) { return (mask >> axis) & 1; }

/// The number of tape levels (tape.push/tape.pop imm is below it).
inline constexpr int64_t tape_levels = 16;

/// Visit every node id reachable from region r, in order, entering nested
/// regions before the structured node that owns them is visited.
template <class F>
void walk(const Function& f, RegionId r, F&& fn) {
  for (ValueId v : f.regions[r].body) {
    for (RegionId c : f.nodes[v].regions) walk(f, c, fn);
    fn(v);
  }
}
template <class F>
void walk(const Function& f, F&& fn) { walk(f, f.body, fn); }

}  // namespace kiln::ir
