// Common-subexpression elimination over the region tree.
//
// Staging hash-conses pure nodes as it builds them, but folding and inlining
// create new equal values, and staging cannot see that a value computed
// before an if_ is the same as one inside it. A scoped table maps each pure
// node's (op, type, imm, operands) to the first value computed: a region
// sees its own entries and its ancestors'. A parent's value dominates every
// use in its children, so reusing it never computes a trapping op (div, rem)
// where the program would not have.
//
// Loads are merged within one region while nothing in between may write
// memory, and a load right after a store to the same element takes the
// stored value.
#include "passes.h"

#include "rewrite.h"

#include <unordered_map>

namespace kiln::passes {
namespace {

using namespace ir;

struct Key {
  Op op;
  Type type;
  int64_t imm;
  ValueId args[3];
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = static_cast<uint64_t>(k.op) * 0x9E3779B97F4A7C15ull;
    auto mix = [&](uint64_t x) { h = (h ^ x) * 0x100000001B3ull + (h >> 29); };
    mix(static_cast<uint64_t>(k.type.kind) << 16 | static_cast<uint64_t>(k.type.elem) << 8 | k.type.writable);
    mix(static_cast<uint64_t>(k.imm));
    for (ValueId a : k.args) mix(a);
    return static_cast<size_t>(h);
  }
};

struct LoadKey {
  ValueId buf, index;
  bool operator==(const LoadKey&) const = default;
};
struct LoadKeyHash {
  size_t operator()(const LoadKey& k) const { return (static_cast<size_t>(k.buf) << 32) ^ k.index; }
};

bool mergeable(const Node& n) {
  return info(n.op).effect == Effect::pure && n.op != Op::Param && n.args.size() <= 3;
}

class Eliminator {
 public:
  Eliminator(Function& f, const std::vector<bool>& writes)
      : f_(f), writes_(writes), regions_(region_writes(f, writes)), sub_(f) {}

  void region(RegionId r) {
    std::vector<Key> scope;
    std::unordered_map<LoadKey, ValueId, LoadKeyHash> loads;
    std::vector<ValueId> old = std::move(f_.regions[r].body);
    std::vector<ValueId> body;
    body.reserve(old.size());
    for (ValueId v : old) {
      sub_.apply_args(f_.nodes[v]);
      std::vector<RegionId> children = f_.nodes[v].regions;
      for (RegionId c : children) region(c);
      const Node& n = f_.nodes[v];
      if (mergeable(n)) {
        Key k{n.op, n.type, n.imm, {no_value, no_value, no_value}};
        for (size_t i = 0; i < n.args.size(); ++i) k.args[i] = n.args[i];
        auto it = table_.find(k);
        // A tensor is merged only with one of its own region: one made
        // outside a loop and used inside is what reverse mode cannot
        // differentiate yet (the same reason licm keeps tensors in place).
        if (it != table_.end() && (!n.type.is_tensor() || home_[it->second] == r)) {
          sub_.replace(v, it->second);
          continue;
        }
        if (it == table_.end()) {
          table_.emplace(k, v);
          scope.push_back(k);
          if (n.type.is_tensor()) home_[v] = r;
        }
      } else if (n.op == Op::Load) {
        auto [it, inserted] = loads.try_emplace(LoadKey{n.args[0], n.args[1]}, v);
        if (!inserted) {
          sub_.replace(v, it->second);
          continue;
        }
      } else if (node_writes(f_, v, writes_, regions_)) {
        loads.clear();
        // The stored value is what a load of the same element reads next.
        if (n.op == Op::Store) loads[LoadKey{n.args[0], n.args[1]}] = n.args[2];
      }
      body.push_back(v);
    }
    f_.regions[r].body = std::move(body);
    sub_.apply_yields(f_.regions[r]);
    for (const Key& k : scope) table_.erase(k);
  }

 private:
  Function& f_;
  const std::vector<bool>& writes_;
  std::vector<bool> regions_;
  Substitution sub_;
  std::unordered_map<Key, ValueId, KeyHash> table_;
  std::unordered_map<ValueId, RegionId> home_;  // the region of each tensor in table_
};

}  // namespace

void cse(Module& m, const Options&) {
  const std::vector<bool> writes = writes_memory(m);
  for (Function& f : m.functions) Eliminator(f, writes).region(f.body);
}

}  // namespace kiln::passes
