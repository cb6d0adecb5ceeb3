// Loop-invariant code motion.
//
// Regions are processed innermost first, so a value invariant in several
// nested loops climbs out of all of them. A node moves in front of its loop
// when it is pure, cannot trap and has no regions, and every operand is
// defined outside the loop (or was itself moved). Moving such a node out of
// a loop that runs zero times computes a value nobody reads: harmless.
//
// Integer div / rem may trap, so they move only with a constant divisor that
// is not zero. A load moves only when nothing in the loop writes memory
// (so it reads the same element every iteration) and the loop surely runs
// its body at least once: a for with constant bounds and a positive trip
// count, or a while's condition region (which always runs once). Otherwise
// an out-of-bounds load could trap where the program never executed it.
// Tensor-typed values never move (movable() says why).
#include "passes.h"

#include "rewrite.h"

namespace kiln::passes {
namespace {

using namespace ir;

class Hoister {
 public:
  Hoister(Function& f, const std::vector<bool>& writes)
      : f_(f), writes_(writes), regions_(region_writes(f, writes)), inside_(f.nodes.size(), 0) {}

  void region(RegionId r) {
    std::vector<ValueId> old = std::move(f_.regions[r].body);
    std::vector<ValueId> body;
    body.reserve(old.size());
    for (ValueId v : old) {
      std::vector<RegionId> children = f_.nodes[v].regions;
      for (RegionId c : children) region(c);
      const Op op = f_.nodes[v].op;
      if (op == Op::For || op == Op::While || op == Op::ParallelFor) hoist(v, body);
      body.push_back(v);
    }
    f_.regions[r].body = std::move(body);
  }

 private:
  Function& f_;
  const std::vector<bool>& writes_;
  std::vector<bool> regions_;
  std::vector<char> inside_;  // per node: defined inside the loop being processed

  bool safe_divisor(ValueId d) const {
    const Node& n = f_.node(d);
    return n.op == Op::Const && n.imm != 0;
  }

  bool movable(const Node& n, bool loads_ok) const {
    if (!n.regions.empty()) return false;
    // Tensors stay in the loop the user made them in. Reverse mode cannot
    // carry the adjoint of a tensor made outside a loop and used inside
    // (it refuses such programs), so hoisting one would turn a program it
    // differentiates into one it rejects; and an integer tensor division
    // could trap where the loop never ran. After tensor lowering the loop
    // nests' invariant scalars still move.
    if (n.type.is_tensor()) return false;
    switch (n.op) {
      case Op::Param:
        return false;
      case Op::Div:
      case Op::Rem:
        return !n.type.is_int() || safe_divisor(n.args[1]);
      case Op::Load:
        return loads_ok;
      case Op::Call:
        return false;
      default:
        return info(n.op).effect == Effect::pure;
    }
  }

  void mark_inside(RegionId r, char value) {
    for (ValueId p : f_.region(r).params) inside_[p] = value;
    for (ValueId v : f_.region(r).body) {
      inside_[v] = value;
      for (RegionId c : f_.node(v).regions) mark_inside(c, value);
    }
  }

  /// Moves loop v's invariant nodes to the end of `out` (in front of v).
  void hoist(ValueId v, std::vector<ValueId>& out) {
    const Node& loop = f_.node(v);
    bool writes = false;
    for (RegionId r : loop.regions) writes = writes || regions_[r];
    for (RegionId r : loop.regions) mark_inside(r, 1);
    const std::vector<RegionId> regions = loop.regions;
    for (size_t i = 0; i < regions.size(); ++i) {
      // Which regions surely run: a while's condition; a for body with a
      // positive constant trip count.
      bool runs = loop.op == Op::While ? i == 0 : trip_count(f_, loop) > 0;
      bool loads_ok = !writes && runs;
      std::vector<ValueId> kept;
      for (ValueId x : f_.region(regions[i]).body) {
        const Node& n = f_.node(x);
        bool invariant = movable(n, loads_ok);
        for (ValueId a : n.args) invariant = invariant && !inside_[a];
        if (invariant) {
          inside_[x] = 0;
          out.push_back(x);
        } else {
          kept.push_back(x);
        }
      }
      f_.regions[regions[i]].body = std::move(kept);
    }
    for (RegionId r : regions) mark_inside(r, 0);
  }
};

}  // namespace

void licm(Module& m, const Options&) {
  const std::vector<bool> writes = writes_memory(m);
  for (Function& f : m.functions) Hoister(f, writes).region(f.body);
}

}  // namespace kiln::passes
