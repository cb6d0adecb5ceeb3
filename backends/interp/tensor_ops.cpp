// The interpreter's tensor ops: each op computed the plainest way, element by
// element in row-major order, with the scalar semantics of eval_scalar, so
// that lowered loops can be checked against it bit for bit.
#include "tensor_ops.h"

#include <kiln/error.h>

#include "../../codegen/ir/scalar_ops.h"

namespace kiln::interp {
namespace {

using namespace ir;

using Dims = std::vector<int64_t>;

// A trap function must not return; if one does, stop rather than compute on.
[[noreturn]] void fail(const TrapFn& trap, const std::string& what, const std::string& remedy) {
  trap(what, remedy);
  throw InternalError("the interpreter's trap handler returned after: " + what);
}

// A fresh zeroed block for a tensor of type t, owned by the frame. Zeroed so
// that embed's "everything else is zero" needs no extra pass.
Value fresh(Type t, Blocks& blocks) {
  const int64_t n = numel(t);
  blocks.push_back(std::make_unique<unsigned char[]>(static_cast<size_t>(n) * byte_width(t.elem) + 1));
  Value v{};
  v.p = blocks.back().get();
  v.size = n;
  return v;
}

// A block fresh() just made is ours to write; tensors are immutable only
// once an op has returned them.
void* data(const Value& v) { return const_cast<void*>(v.p); }

Dims strides(const Dims& shape) {
  Dims s(shape.size(), 1);
  for (size_t k = shape.size(); k-- > 1;) s[k - 1] = s[k] * shape[k];
  return s;
}

// Steps a row-major multi-index; false once it has passed the last element.
bool next_index(Dims& idx, const Dims& shape) {
  for (size_t k = idx.size(); k-- > 0;) {
    if (++idx[k] < shape[k]) return true;
    idx[k] = 0;
  }
  return false;
}

// A view that reads: result element at multi-index idx is the operand's
// element at flat offset from(idx).
template <class F>
Value gather(Type out, const Value& x, Blocks& blocks, F&& from) {
  Value r = fresh(out, blocks);
  const Dims sh = shape(out);
  Dims idx(sh.size(), 0);
  int64_t i = 0;
  do store_element(out.elem, data(r), i++, load_element(out.elem, x.p, from(idx)));
  while (next_index(idx, sh));
  return r;
}

Value fill(Type t, const Value& x, Blocks& blocks) {
  Value r = fresh(t, blocks);
  for (int64_t i = 0; i < r.size; ++i) store_element(t.elem, data(r), i, x);
  return r;
}

Value iota(Type t, Blocks& blocks) {
  Value r = fresh(t, blocks);
  const Type i64 = Type::scalar(Scalar::i64);
  for (int64_t i = 0; i < r.size; ++i) {
    Value index{};
    index.i = i;
    Trap never;  // a cast never traps
    store_element(t.elem, data(r), i, eval_scalar(Op::Cast, t.element(), &i64, &index, 1, never));
  }
  return r;
}

// tensor.const: the elements are listed as constant encodings (like a
// scalar const's imm), decoded one by one.
Value dense(const Node& n, Blocks& blocks) {
  Value r = fresh(n.type, blocks);
  const std::vector<int64_t> encodings = ints(static_cast<uint32_t>(n.imm));
  Node element;
  element.type = n.type.element();
  for (int64_t i = 0; i < r.size; ++i) {
    element.imm = encodings[static_cast<size_t>(i)];
    store_element(n.type.elem, data(r), i, constant_value(element));
  }
  return r;
}

// Every elementwise op: operand and result tensors share one shape (the
// verifier's rule), so element i of each operand makes element i.
Value elementwise(const Function& f, const Node& n, const std::vector<Value>& args, Blocks& blocks,
                  const TrapFn& trap) {
  Type types[3];
  const size_t nargs = args.size();
  for (size_t k = 0; k < nargs; ++k) {
    if (!f.type(n.args[k]).is_tensor() || !n.type.is_tensor())
      throw InternalError("the interpreter met " + std::string(info(n.op).spelling) +
                          " mixing scalars and tensors in @" + f.name + ": the verifier should have refused it");
    types[k] = f.type(n.args[k]).element();
  }
  Value r = fresh(n.type, blocks);
  for (int64_t i = 0; i < r.size; ++i) {
    Value xs[3];
    for (size_t k = 0; k < nargs; ++k) xs[k] = load_element(types[k].elem, args[k].p, i);
    Trap tr;
    Value y = eval_scalar(n.op, n.type.element(), types, xs, nargs, tr);
    if (tr) fail(trap, tr.what, "guard the divisor, e.g. with kiln::if_(d != 0, ...)");
    store_element(n.type.elem, data(r), i, y);
  }
  return r;
}

// NumPy broadcasting: the operand's axes line up with the result's last
// ones; an operand extent of 1 repeats its one element (stride 0).
Value broadcast(Type out, Type in, const Value& x, Blocks& blocks) {
  const Dims from = shape(in), s = strides(from);
  const size_t lead = shape(out).size() - from.size();
  return gather(out, x, blocks, [&](const Dims& idx) {
    int64_t at = 0;
    for (size_t k = 0; k < from.size(); ++k)
      if (from[k] != 1) at += idx[lead + k] * s[k];
    return at;
  });
}

// Result axis k walks operand axis perm[k].
Value transpose(Type out, Type in, int64_t imm, const Value& x, Blocks& blocks) {
  const Dims perm = ints(static_cast<uint32_t>(imm)), s = strides(shape(in));
  return gather(out, x, blocks, [&](const Dims& idx) {
    int64_t at = 0;
    for (size_t k = 0; k < perm.size(); ++k) at += idx[k] * s[static_cast<size_t>(perm[k])];
    return at;
  });
}

// The flat offset in `big` (of strides s) of small-tensor index idx under
// slice bounds (start0, step0, start1, step1, ...).
int64_t sliced_offset(const Dims& idx, const Dims& bounds, const Dims& s) {
  int64_t at = 0;
  for (size_t k = 0; k < idx.size(); ++k) at += (bounds[2 * k] + bounds[2 * k + 1] * idx[k]) * s[k];
  return at;
}

Value slice(Type out, Type in, int64_t imm, const Value& x, Blocks& blocks) {
  const Dims bounds = ints(static_cast<uint32_t>(imm)), s = strides(shape(in));
  return gather(out, x, blocks, [&](const Dims& idx) { return sliced_offset(idx, bounds, s); });
}

// Slice's adjoint: the operand scattered to the sliced positions of a zero
// tensor (fresh blocks start zeroed).
Value embed(Type out, Type in, int64_t imm, const Value& x, Blocks& blocks) {
  const Dims bounds = ints(static_cast<uint32_t>(imm)), s = strides(shape(out)), sh = shape(in);
  Value r = fresh(out, blocks);
  Dims idx(sh.size(), 0);
  int64_t i = 0;
  do store_element(out.elem, data(r), sliced_offset(idx, bounds, s), load_element(out.elem, x.p, i++));
  while (next_index(idx, sh));
  return r;
}

// Sum and max fold each result element's inputs as a sequential loop would:
// acc = x0, then acc = acc op x1, ... in row-major order of the reduced
// axes. Walking the operand in row-major order visits each result element's
// inputs in exactly that order, so one pass with a running accumulator per
// result element suffices.
Value reduce(Op op, Type out, Type in, int64_t mask, const Value& x, Blocks& blocks) {
  const Dims sh = shape(in);
  const Type elem = in.element();
  const Type pair[2] = {elem, elem};
  const Op fold = op == Op::ReduceSum ? Op::Add : Op::Max;
  // Where each operand axis moves the result: a kept axis by the result's
  // stride for it, a reduced one not at all.
  Dims step(sh.size(), 0);
  const Dims kept_strides = strides(shape(out));
  for (size_t k = 0, kept = 0; k < sh.size(); ++k)
    if (!reduces_axis(mask, k)) step[k] = kept_strides[kept++];
  const int64_t results = out.is_tensor() ? numel(out) : 1;
  std::vector<Value> acc(static_cast<size_t>(results));
  std::vector<char> started(static_cast<size_t>(results), 0);
  Dims idx(sh.size(), 0);
  int64_t i = 0;
  do {
    int64_t at = 0;
    for (size_t k = 0; k < sh.size(); ++k) at += idx[k] * step[k];
    Value& a = acc[static_cast<size_t>(at)];
    Value xs[2] = {a, load_element(elem.elem, x.p, i++)};
    Trap never;  // add and max never trap
    a = started[static_cast<size_t>(at)] ? eval_scalar(fold, elem, pair, xs, 2, never) : xs[1];
    started[static_cast<size_t>(at)] = 1;
  } while (next_index(idx, sh));
  if (!out.is_tensor()) return acc[0];  // every axis reduced: a scalar
  Value r = fresh(out, blocks);
  for (int64_t j = 0; j < r.size; ++j) store_element(out.elem, data(r), j, acc[static_cast<size_t>(j)]);
  return r;
}

Value matmul(Type out, Type ta, Type tb, const Value& a, const Value& b, Blocks& blocks) {
  const Dims sa = shape(ta), sb = shape(tb);
  const size_t rank = sa.size();
  const int64_t m = sa[rank - 2], k = sa[rank - 1], n = sb[rank - 1];
  Value r = fresh(out, blocks);
  matmul_elements(out.elem, a.p, 0, b.p, 0, data(r), numel(ta) / (m * k), m, k, n);
  return r;
}

// "64*784": the element count as the user would write it.
std::string product_text(const Dims& shape) {
  std::string s;
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? "*" : "") + std::to_string(shape[k]);
  return s;
}

// tensor.load / tensor.store touch buf[offset, offset + numel); with the
// exact flag (imm 1) that range must be the whole buffer.
void check_fits(const Node& n, Type tensor, const Value& buf, int64_t offset, const TrapFn& trap) {
  const int64_t count = numel(tensor);
  const bool exact = n.imm == 1;
  const bool fits = exact ? offset == 0 && buf.size == count : offset >= 0 && offset <= buf.size - count;
  if (fits) return;
  const Dims sh = shape(tensor);
  const std::string op = std::string(info(n.op).spelling) + " of a " + shape_text(sh) + " tensor";
  const std::string has = ", the buffer has " + std::to_string(buf.size);
  if (exact && offset != 0)
    fail(trap, op + " of the whole buffer needs offset 0, got " + std::to_string(offset),
         "give offset 0, or drop the exact-size requirement to use part of a buffer");
  if (exact)
    fail(trap, op + " needs a buffer of exactly " + std::to_string(count) + " elements" + has,
         "pass a buffer of exactly " + product_text(sh) + " elements");
  const std::string what = op + " at offset " + std::to_string(offset);
  if (offset < 0) fail(trap, what + " is before the buffer's start" + has + " elements", "give an offset of 0 or more");
  fail(trap, what + " needs " + std::to_string(offset + count) + " elements" + has,
       "pass a buffer of at least offset + " + product_text(sh) + " elements, or give an offset within it");
}

Value tensor_load(const Node& n, const std::vector<Value>& args, Blocks& blocks, const TrapFn& trap) {
  const Value& buf = args[0];
  const int64_t offset = args[1].i;
  check_fits(n, n.type, buf, offset, trap);
  Value r = fresh(n.type, blocks);
  for (int64_t i = 0; i < r.size; ++i)
    store_element(n.type.elem, data(r), i, load_element(n.type.elem, buf.p, offset + i));
  return r;
}

Value tensor_store(const Function& f, const Node& n, const std::vector<Value>& args, const TrapFn& trap) {
  const Type t = f.type(n.args[0]);
  const Value &x = args[0], &buf = args[1];
  const int64_t offset = args[2].i;
  check_fits(n, t, buf, offset, trap);
  for (int64_t i = 0; i < x.size; ++i)
    store_element(t.elem, const_cast<void*>(buf.p), offset + i, load_element(t.elem, x.p, i));
  return Value{};
}

}  // namespace

void matmul_elements(Scalar elem, const void* a, int64_t a_off, const void* b, int64_t b_off, void* c,
                     int64_t batches, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b) {
  const Type t = Type::scalar(elem);
  const Type pair[2] = {t, t};
  for (int64_t bt = 0; bt < batches; ++bt)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        Value acc{};  // +0.0 in both f32 and f64
        Trap never;   // float mul and add never trap
        for (int64_t p = 0; p < k; ++p) {
          const int64_t ai = trans_a ? bt * m * k + p * m + i : (bt * m + i) * k + p;
          const int64_t bi = trans_b ? bt * k * n + j * k + p : (bt * k + p) * n + j;
          Value ab[2] = {load_element(elem, a, a_off + ai), load_element(elem, b, b_off + bi)};
          Value sum[2] = {acc, eval_scalar(Op::Mul, t, pair, ab, 2, never)};
          acc = eval_scalar(Op::Add, t, pair, sum, 2, never);
        }
        store_element(elem, c, (bt * m + i) * n + j, acc);
      }
}

Value eval_tensor(const ir::Function& f, const ir::Node& n, const std::vector<Value>& args, Blocks& blocks,
                  const TrapFn& trap) {
  auto operand = [&](size_t k) { return f.type(n.args[k]); };
  switch (n.op) {
    case Op::Const: return fill(n.type, constant_value(n), blocks);  // a tensor-typed const is a splat
    case Op::Splat: return fill(n.type, args[0], blocks);
    case Op::Iota: return iota(n.type, blocks);
    case Op::TensorConst: return dense(n, blocks);
    case Op::Broadcast: return broadcast(n.type, operand(0), args[0], blocks);
    case Op::Transpose: return transpose(n.type, operand(0), n.imm, args[0], blocks);
    case Op::Reshape:  // gather walks the result in row-major order: the source is the running count
      return gather(n.type, args[0], blocks, [i = int64_t{0}](const Dims&) mutable { return i++; });
    case Op::Slice: return slice(n.type, operand(0), n.imm, args[0], blocks);
    case Op::Embed: return embed(n.type, operand(0), n.imm, args[0], blocks);
    case Op::ReduceSum:
    case Op::ReduceMax: return reduce(n.op, n.type, operand(0), n.imm, args[0], blocks);
    case Op::Matmul: return matmul(n.type, operand(0), operand(1), args[0], args[1], blocks);
    case Op::TensorLoad: return tensor_load(n, args, blocks, trap);
    case Op::TensorStore: return tensor_store(f, n, args, trap);
    case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
    case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
    case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
    case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
    case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
    case Op::Fma: case Op::Select:
      return elementwise(f, n, args, blocks, trap);
    case Op::Param: case Op::Size: case Op::Disjoint: case Op::Get: case Op::Load: case Op::Store: case Op::VarLoad:
    case Op::VarStore: case Op::TapePush: case Op::TapePop: case Op::TapeReserve: case Op::TapeRelease:
    case Op::Call: case Op::Alloc: case Op::Check: case Op::Gemm: case Op::If: case Op::For: case Op::While: case Op::ParallelFor:
      break;
  }
  throw InternalError("the interpreter's tensor ops were handed " + std::string(info(n.op).spelling) + " in @" +
                      f.name + ", which is not a tensor op");
}

}  // namespace kiln::interp
