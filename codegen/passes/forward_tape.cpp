// Tape forwarding: reverse mode (codegen/autodiff/reverse.cpp) pushes what
// its reverse sweep needs and pops it later. Once the sweeps are inlined
// into one function, a tape.pop often follows, in the same region, the
// tape.push it pops, with nothing between that touches that tape (no other
// push or pop of it, no call, no structured op with a tape op or a call
// inside: the entry zeroes the gradient buffers between the sweeps). The
// pop then takes the pushed value and both go.
#include "passes.h"
#include "rewrite.h"

namespace kiln::passes {
namespace {

using namespace ir;

// Does a node of one of v's regions (at any depth) use a tape or call?
bool tape_or_call_inside(const Function& f, ValueId v) {
  bool found = false;
  for (RegionId c : f.nodes[v].regions)
    walk(f, c, [&](ValueId x) { found = found || is_tape_op(f.nodes[x].op) || f.nodes[x].op == Op::Call; });
  return found;
}

void forward_region(Function& f, RegionId r, Substitution& sub) {
  const std::vector<ValueId> body = f.regions[r].body;
  std::vector<char> dead(body.size(), 0);
  std::vector<std::vector<size_t>> pending(tape_levels);  // positions of pushes not yet popped
  for (size_t k = 0; k < body.size(); ++k) {
    const ValueId v = body[k];
    for (RegionId c : f.nodes[v].regions) forward_region(f, c, sub);
    const Node& n = f.nodes[v];
    if (n.op == Op::TapePush) {
      pending[n.imm].push_back(k);
    } else if (n.op == Op::TapePop) {
      std::vector<size_t>& p = pending[n.imm];
      if (!p.empty() && f.type(f.nodes[body[p.back()]].args[0]) == n.type) {
        sub.replace(v, f.nodes[body[p.back()]].args[0]);
        dead[k] = dead[p.back()] = 1;
        p.pop_back();
      } else {
        p.clear();
      }
    } else if (n.op == Op::TapeReserve || n.op == Op::TapeRelease) {
      pending[n.imm].clear();
    } else if (n.op == Op::Call || (!n.regions.empty() && tape_or_call_inside(f, v))) {
      for (auto& p : pending) p.clear();
    }
  }
  std::vector<ValueId> kept;
  for (size_t k = 0; k < body.size(); ++k)
    if (!dead[k]) kept.push_back(body[k]);
  f.regions[r].body = std::move(kept);
}

}  // namespace

void forward_tape(Module& m, const Options&) {
  for (Function& f : m.functions) {
    Substitution sub(f);
    forward_region(f, f.body, sub);
    sub.apply(f);
  }
}

}  // namespace kiln::passes
