// The reference interpreter: a direct walk over structured regions.
#include "interpreter.h"

#include <kiln/error.h>

#include "../../codegen/ir/scalar_ops.h"
#include "tensor_ops.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace kiln::interp {
namespace {

using namespace ir;

constexpr int max_call_depth = 2000;  // interpreter frames live on the C++ stack

// disjoint: the buffers' element bytes, where the interpreter holds them (the
// caller's memory for parameters, blocks of its own for alloc and the tape),
// do not overlap. An empty range overlaps nothing, not even a range around
// its address.
bool disjoint_bytes(const Value& a, size_t a_width, const Value& b, size_t b_width) {
  if (a.size <= 0 || b.size <= 0) return true;
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a.p), b0 = reinterpret_cast<uintptr_t>(b.p);
  const uintptr_t a1 = a0 + static_cast<uintptr_t>(a.size) * a_width, b1 = b0 + static_cast<uintptr_t>(b.size) * b_width;
  return a1 <= b0 || b1 <= a0;
}

class Machine {
 public:
  explicit Machine(const Module& m) : m_(m) {}

  std::vector<Value> call(size_t index, const std::vector<Value>& args) {
    if (++depth_ > max_call_depth)
      throw RuntimeError("staged recursion deeper than " + std::to_string(max_call_depth) + " calls in @" +
                         m_.functions[index].name + ": check the recursion's base case");
    Frame frame{m_.functions[index], std::vector<Value>(m_.functions[index].nodes.size()), {}, {}};
    auto results = region(frame, frame.f.body, args);
    --depth_;
    return results;
  }

 private:
  struct Frame {
    const Function& f;
    std::vector<Value> env;
    std::unordered_map<ValueId, std::vector<Value>> tuples;
    std::vector<std::unique_ptr<unsigned char[]>> blocks;  // alloc's and the tensors' storage
  };
  const Module& m_;
  int depth_ = 0;
  std::vector<Value> tape_[tape_levels];  // tape.push / tape.pop, per level
  std::vector<std::unique_ptr<unsigned char[]>> blocks_;  // what tape.reserve made

  [[noreturn]] void trap(const Frame& fr, const Node& n, const std::string& what, const std::string& remedy) {
    throw RuntimeError(user_message(what + " in @" + fr.f.name, n.loc, remedy));
  }

  std::vector<Value> region(Frame& fr, RegionId r, const std::vector<Value>& params) {
    const Region& reg = fr.f.region(r);
    for (size_t i = 0; i < reg.params.size(); ++i) fr.env[reg.params[i]] = params[i];
    for (ValueId v : reg.body) node(fr, v);
    std::vector<Value> out;
    out.reserve(reg.yields.size());
    for (ValueId y : reg.yields) out.push_back(fr.env[y]);
    return out;
  }

  std::vector<Value> args_of(const Frame& fr, const Node& n, size_t from = 0) {
    std::vector<Value> out;
    for (size_t i = from; i < n.args.size(); ++i) out.push_back(fr.env[n.args[i]]);
    return out;
  }

  int64_t checked_index(Frame& fr, const Node& n) {
    const Value& buf = fr.env[n.args[0]];
    int64_t i = fr.env[n.args[1]].i;
    if (i < 0 || i >= buf.size)
      trap(fr, n, std::string(n.op == Op::Load ? "load" : "store") + " index " + std::to_string(i) +
                      " is out of bounds for a buffer of " + std::to_string(buf.size) + " elements",
           "keep indices in [0, size()); compare against x.size() or pass a larger buffer");
    return i;
  }

  // The reference gemm: tensor.matmul's order (gemm itself promises none).
  void gemm(Frame& fr, const Node& n) {
    const GemmShape g = gemm_shape(n.imm);
    const int64_t m = g.m, k = g.k, nn = g.n;
    const Value &a = fr.env[n.args[0]], &b = fr.env[n.args[2]], &c = fr.env[n.args[4]];
    const int64_t ao = fr.env[n.args[1]].i, bo = fr.env[n.args[3]].i;
    if (ao < 0 || ao > a.size - m * k || bo < 0 || bo > b.size - k * nn || c.size < m * nn)
      trap(fr, n, "gemm of " + std::to_string(m) + "x" + std::to_string(k) + " by " + std::to_string(k) + "x" +
                      std::to_string(nn) + " does not fit its buffers",
           "this is a kiln bug: tensor lowering sized them");
    matmul_elements(fr.f.type(n.args[0]).elem, a.p, ao, b.p, bo, const_cast<void*>(c.p), 1, m, k, nn, g.trans_a,
                    g.trans_b);
  }

  void node(Frame& fr, ValueId v) {
    const Node& n = fr.f.node(v);
    Value& out = fr.env[v];
    switch (n.op) {
      case Op::Const:
        if (n.type.is_tensor()) return tensor_op(fr, v, n);  // a splat
        out = constant_value(n);
        return;
      case Op::Param:
        return;  // bound when the region is entered
      case Op::Size:
        out.i = fr.env[n.args[0]].size;
        return;
      case Op::Disjoint: {
        const Value &a = fr.env[n.args[0]], &b = fr.env[n.args[1]];
        const bool d = disjoint_bytes(a, byte_width(fr.f.type(n.args[0]).elem), b, byte_width(fr.f.type(n.args[1]).elem));
        out = Value{};
        out.i = d;
        return;
      }
      case Op::Get:
        out = fr.tuples.at(n.args[0]).at(static_cast<size_t>(n.imm));
        return;
      case Op::Load:
        out = load_element(fr.f.type(n.args[0]).elem, fr.env[n.args[0]].p, checked_index(fr, n));
        return;
      case Op::Store:
        store_element(fr.f.type(n.args[0]).elem, const_cast<void*>(fr.env[n.args[0]].p), checked_index(fr, n),
                      fr.env[n.args[2]]);
        return;
      case Op::TapePush: {
        Value x = fr.env[n.args[0]];
        if (Type t = fr.f.type(n.args[0]); t.is_tensor()) {  // the tape keeps its own copy past this frame
          const size_t bytes = static_cast<size_t>(x.size) * byte_width(t.elem);
          auto block = std::make_unique<unsigned char[]>(bytes + 1);
          std::memcpy(block.get(), x.p, bytes);
          x.p = block.get();
          blocks_.push_back(std::move(block));
        }
        tape_[n.imm].push_back(x);
        return;
      }
      case Op::TapePop:
        if (tape_[n.imm].empty()) throw InternalError("tape.pop on an empty tape in @" + fr.f.name);
        out = tape_[n.imm].back();
        tape_[n.imm].pop_back();
        return;
      case Op::TapeReserve: {  // a zeroed block, marked on the tape
        const int64_t count = fr.env[n.args[0]].i;
        auto block = std::make_unique<unsigned char[]>(static_cast<size_t>(count) * byte_width(n.type.elem) + 1);
        Value mark{};
        mark.p = block.get();
        mark.size = count;
        blocks_.push_back(std::move(block));
        tape_[n.imm].push_back(mark);
        out = mark;
        return;
      }
      case Op::TapeRelease: {  // the block stays alive (blocks_) until the call ends
        if (tape_[n.imm].empty() || tape_[n.imm].back().size != fr.env[n.args[0]].i)
          throw InternalError("tape.release does not match a tape.reserve in @" + fr.f.name);
        out = tape_[n.imm].back();
        tape_[n.imm].pop_back();
        return;
      }
      case Op::Check:
        if (!fr.env[n.args[0]].i) {
          auto [what, remedy] = message(n.imm);
          trap(fr, n, what, remedy);
        }
        return;
      case Op::Gemm:
        gemm(fr, n);
        return;
      case Op::Alloc: {  // zeroed, so a program reading before writing is deterministic
        auto block = std::make_unique<unsigned char[]>(static_cast<size_t>(n.imm) * byte_width(n.type.elem) + 1);
        out = Value{};
        out.p = block.get();
        out.size = n.imm;
        fr.blocks.push_back(std::move(block));
        return;
      }
      case Op::Splat: case Op::Iota: case Op::TensorConst: case Op::Broadcast: case Op::Transpose: case Op::Reshape:
      case Op::Slice: case Op::Embed: case Op::ReduceSum: case Op::ReduceMax: case Op::Matmul:
      case Op::TensorLoad: case Op::TensorStore:
        tensor_op(fr, v, n);
        return;
      case Op::Call:
        fr.tuples[v] = call(static_cast<size_t>(n.imm), args_of(fr, n));
        return;
      case Op::If:
        fr.tuples[v] = region(fr, n.regions[fr.env[n.args[0]].i ? 0 : 1], {});
        return;
      case Op::For:
      case Op::ParallelFor:
        fr.tuples[v] = loop(fr, n);
        return;
      case Op::While: {
        std::vector<Value> carried = args_of(fr, n);
        for (;;) {
          std::vector<Value> c = region(fr, n.regions[0], carried);
          std::vector<Value> forwarded(c.begin() + 1, c.end());
          if (!c[0].i) {
            fr.tuples[v] = std::move(forwarded);
            return;
          }
          carried = region(fr, n.regions[1], forwarded);
        }
      }
      case Op::VarLoad:
      case Op::VarStore:
        throw InternalError("the interpreter met " + std::string(info(n.op).spelling) +
                            ": variables must be promoted before execution");
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
      case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select: {
        if (n.type.is_tensor() || (!n.args.empty() && fr.f.type(n.args[0]).is_tensor())) {
          tensor_op(fr, v, n);
          return;
        }
        Value a[3];
        Type t[3];
        for (size_t i = 0; i < n.args.size(); ++i) {
          a[i] = fr.env[n.args[i]];
          t[i] = fr.f.type(n.args[i]);
        }
        Trap tr;
        out = eval_scalar(n.op, n.type, t, a, n.args.size(), tr);
        if (tr) trap(fr, n, tr.what, "guard the divisor, e.g. with kiln::if_(d != 0, ...)");
        return;
      }
    }
  }

  void tensor_op(Frame& fr, ValueId v, const Node& n) {
    std::vector<Value> args;
    for (ValueId a : n.args) args.push_back(fr.env[a]);
    fr.env[v] = eval_tensor(fr.f, n, args, fr.blocks, [&](const std::string& what, const std::string& remedy) {
      trap(fr, n, what, remedy);
    });
  }

  // for / parallel_for: the trip count is computed in 128-bit arithmetic so
  // bounds near the type's limits neither overflow nor loop forever.
  std::vector<Value> loop(Frame& fr, const Node& n) {
    const __int128 lo = fr.env[n.args[0]].i, hi = fr.env[n.args[1]].i, step = fr.env[n.args[2]].i;
    if (step == 0) trap(fr, n, "loop step is zero", "use a positive step to count up or a negative one to count down");
    std::vector<Value> carried = args_of(fr, n, 3);
    const RegionId body = n.regions[0];
    std::vector<Value> params(carried.size() + 1);
    for (__int128 i = lo; step > 0 ? i < hi : i > hi; i += step) {
      params[0].i = static_cast<int64_t>(i);
      for (size_t k = 0; k < carried.size(); ++k) params[k + 1] = carried[k];
      carried = region(fr, body, params);
    }
    return carried;
  }
};

class InterpKernel final : public detail::Kernel {
 public:
  explicit InterpKernel(Module m) : m_(std::move(m)) {}
  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    std::vector<Value> in(args, args + nargs);
    std::vector<Value> out = run(m_, in);
    for (size_t i = 0; i < nresults && i < out.size(); ++i) results[i] = out[i];
  }

 private:
  Module m_;
};

}  // namespace

std::vector<Value> run(const Module& m, const std::vector<Value>& args) {
  const Function& f = m.functions.at(0);
  if (args.size() != f.params().size())
    throw InternalError("@" + f.name + " takes " + std::to_string(f.params().size()) + " arguments, got " +
                        std::to_string(args.size()));
  // Normalise scalar arguments to the IR's representation (sign-extended ints, 0/1 bools).
  std::vector<Value> in = args;
  for (size_t i = 0; i < in.size(); ++i) {
    Type t = f.type(f.params()[i]);
    if (t.is_int() || t.is_bool()) in[i].i = wrap(t.elem, static_cast<uint64_t>(in[i].i));
  }
  return Machine(m).call(0, in);
}

std::shared_ptr<detail::Kernel> make_kernel(Module m) { return std::make_shared<InterpKernel>(std::move(m)); }

}  // namespace kiln::interp
