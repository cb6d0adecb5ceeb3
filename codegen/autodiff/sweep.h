// Reverse mode. Every function f of the call graph, per pattern of active
// parameters, becomes two functions:
//
//   f_fwd(params) -> results        the primal, which also pushes onto the
//                                   tape what the reverse sweep will need;
//   f_rev(params, cotangents of the float results, adjoint buffers)
//       -> adjoints of the active float scalar parameters
//                                   pops it and runs f backwards.
//
// The tape is a stack per thread and level (IR ops tape.push / tape.pop), so
// f_fwd and f_rev are separate functions: a call g(...) in f becomes
// g_fwd(...) in f_fwd and g_rev(...) in f_rev, recursion included, and one
// tape serves loops with any trip count (a while_ needs no bound).
//
// What is pushed. A region's body is cut into segments, each ending after a
// structured op or a call. At the end of a segment f_fwd pushes the values
// the reverse of that segment needs (the operands of its derivative rules,
// loop bounds, if conditions, call arguments, and what nested regions need
// from this region), and f_rev, walking the segments backwards, pops them
// before reversing the segment. Constants and the function's scalar
// parameters are never pushed. So a loop body pushes per iteration only
// what its own rules need, and a value from outside the loop is pushed once.
//
// Adjoints are SSA values in f_rev (none: zero). A loop's reverse is a loop
// with the same trip count whose carried values are the adjoints of the
// carried values, plus accumulators for the adjoints of outside values the
// body uses; a while_ counts its iterations in f_fwd. An if's reverse is an
// if on the same condition, so only the branch taken is differentiated.
// Buffers have adjoint buffers: a load adds its adjoint into the adjoint
// buffer, a store takes the element's adjoint and zeroes it.
//
// A parallel_for with anything to differentiate stays parallel in both
// sweeps where it can: step 1, a body without loops, calls, tensor ops or
// tape ops, and
// one index for every access to an active buffer the body stores to (see
// Slots below; not with ReverseOptions{.parallel = false}). Any other
// becomes a sequential loop in both sweeps (its iterations are independent,
// so any order is right).
//
// Reverse (reverse.cpp) derives each (function, active parameters) pair
// once; Sweep builds the pair's two functions. Sweep's members live in one
// file per concern: the analysis (reverse_analysis.cpp), the forward sweep
// (reverse_forward.cpp), the reverse sweep (reverse_sweep.cpp), parallel_for
// in parallel (reverse_parallel.cpp) and checkpointed while_ loops
// (reverse_checkpoint.cpp).
#pragma once

#include "../passes/rewrite.h"

#include <kiln/ir/ir.h>

#include <cstdint>
#include <map>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

namespace kiln::autodiff::rev {

using namespace ir;

inline bool is_float_buffer(Type t) {
  return t.kind == TypeKind::buf && (t.elem == Scalar::f32 || t.elem == Scalar::f64);
}

// Appends a parameter of type t to region r of g.
inline ValueId add_param(Function& g, RegionId r, Type t) {
  ValueId p = g.add(Op::Param, t, {}, static_cast<int64_t>(g.regions[r].params.size()));
  g.regions[r].params.push_back(p);
  return p;
}

struct Sweeps {
  size_t fwd = 0, rev = 0;
};

class Reverse {
 public:
  Reverse(const Module& m, int64_t level, int64_t checkpoint, bool parallel)
      : m_(m), level_(level), checkpoint_(checkpoint), parallel_(parallel), writes_(passes::writes_memory(m)) {}

  // The sweeps of function fn for the active parameters `active` (writable
  // float buffers are always active); derived once per pair.
  Sweeps derive(size_t fn, std::vector<bool> active);

  Module& out() { return out_; }

 private:
  const Module& m_;
  int64_t level_;

 public:
  const int64_t checkpoint_;        // while_ snapshots every this many iterations (0: tape every one)
  const bool parallel_;             // parallel_for stays parallel where it can
  const std::vector<bool> writes_;  // per function of m: may write memory or a tape

  // A load of functions[0]'s reverse sweep redone instead of taped: from
  // buffer parameter `read`, which that function never writes, while it
  // writes parameter `written`. Sound only when the two do not overlap, so
  // the entry checks that at every call (trapping at `loc`, the load's line).
  struct Reread {
    size_t read, written;
    std::source_location loc;
  };
  std::vector<Reread> rereads_;

 private:
  Module out_;
  std::map<std::pair<size_t, std::vector<bool>>, Sweeps> done_;
  std::map<size_t, int> variants_;
};

// Builds f_fwd and f_rev of one function.
class Sweep {
 public:
  Sweep(Reverse& rv, const Module& m, const Function& f, const std::vector<bool>& active, int64_t level);

  Function forward(std::string name);
  Function reverse(std::string name);

 private:
  static constexpr RegionId no_region = UINT32_MAX;
  Reverse& rv_;
  const Module& m_;
  const Function& f_;
  const std::vector<bool>& active_;
  int64_t level_;
  size_t n_;
  std::vector<char> act_;                  // value is active (float scalar or buffer that depends on the inputs)
  std::vector<std::vector<char>> tact_;    // per tuple element
  std::vector<char> relevant_;             // node has reverse work
  std::vector<RegionId> def_;              // region that defines a value
  std::vector<ValueId> owner_;             // node that owns a region
  std::vector<RegionId> parent_;           // region that holds a region's owner
  std::vector<std::vector<std::vector<ValueId>>> seg_needs_;  // per region, per segment
  std::map<ValueId, std::vector<ValueId>> free_act_;  // structured node -> active floats it uses from outside
  bool reload_ = false;                     // no function of the module stores: loads can be redone
  std::vector<char> reread_ok_;             // per value: a buffer parameter whose loads can be redone (rereads_)
  std::vector<size_t> written_params_;      // positions of the buffer parameters f writes
  mutable std::vector<char> reread_noted_;  // per value: its rereads_ are recorded
  mutable std::vector<char> remat_;         // rematerialisable: 0 unknown, 1 yes, 2 no

  // Emission state.
  Function g_;
  RegionId cur_ = 0;
  std::source_location loc_;
  std::vector<ValueId> fwd_;            // source value -> value in f_fwd
  std::vector<ValueId> pv_;             // source value -> primal value in f_rev
  std::vector<RegionId> pv_region_;     // ... and the f_rev region it is defined in
  std::vector<RegionId> open_;          // the f_rev regions being emitted, outermost first
  std::vector<ValueId> adj_;            // source value -> adjoint in f_rev (no_value: zero)
  // While a rule runs: its contributions, summed per operand before they
  // reach the adjoints (see Sweep::rule's caller).
  std::vector<std::pair<ValueId, ValueId>>* batch_ = nullptr;
  std::vector<std::vector<ValueId>> tadj_;  // tuple node -> adjoints of its elements
  std::vector<ValueId> adjbuf_;         // buffer parameter -> its adjoint buffer in f_rev
  std::vector<ValueId> trips_;          // while node -> its trip count in f_fwd
  bool quiet_ = false;                  // emitting a checkpointed loop's forward sweep: no pushes
  ValueId trips_rev_ = no_value;        // the trip count rev_body popped for the segment it reverses

  // --- analysis (reverse_analysis.cpp) ----------------------------------------

  bool act(ValueId v) const { return act_[v] != 0; }
  // Floats with adjoints: scalars and tensors.
  bool float_active(ValueId v) const { return f_.type(v).is_float_elementwise() && act(v); }

  bool within(RegionId r, RegionId ancestor) const;
  bool inside(ValueId v, ValueId s) const;
  void index_region(RegionId r);
  bool set(std::vector<char>& x, size_t i, bool on);
  bool propagate(RegionId r);
  bool mark_relevant(RegionId r);
  std::vector<ValueId> node_needs(ValueId v) const;
  bool rematerialisable(ValueId v) const;
  void find_rereads();
  bool unit_index(ValueId v) const;
  static bool cheap(const Node& n);
  void narrow(RegionId r, std::vector<ValueId>& seg) const;
  static bool ends_segment(const Node& n) { return !n.regions.empty() || n.op == Op::Call; }
  std::vector<ValueId> analyse_needs(RegionId r);
  // need(x) for each value x that node s's region r (at any depth) reads from outside s.
  template <class Need>
  void collect_used(ValueId s, RegionId r, Need& need) const {
    const Region& reg = f_.region(r);
    auto use = [&](ValueId x) {
      if (!inside(x, s)) need(x);
    };
    for (ValueId v : reg.body) {
      for (ValueId a : f_.node(v).args) use(a);
      for (RegionId c : f_.node(v).regions) collect_used(s, c, need);
    }
    for (ValueId y : reg.yields) use(y);
  }
  void collect_free(ValueId s, RegionId r, std::vector<ValueId>& out) const;
  void analyse();

  // --- parallel_for in parallel (reverse_parallel.cpp) ------------------------
  //
  // A relevant parallel_for with step 1 whose body has no loop, no call, no
  // tensor op and no tape op stays parallel in both sweeps. Instead of
  // pushing, iteration k (= i - lo) of the forward sweep stores what its
  // reverse needs in row k
  // of one block of doubles reserved on the tape (tape.reserve; n rows of
  // `width` columns; one block, since a second reserve could move the
  // first). Every value kept there converts to double and back exactly:
  // floats, conditions, and in-bounds indices. The reverse sweep releases the blocks
  // and runs the reverse body in parallel, reading row k. What iterations
  // would add to the same place goes to row k too and is added up by a
  // sequential loop afterwards, in iteration order (deterministic, no
  // atomics): the adjoints of outside scalars the body reads, and adjoint
  // updates of a buffer unless every access to it in the body uses one index
  // that differs per iteration (i, or i plus or minus an outside value).
  struct Slots {
    size_t width = 0;                                      // columns
    std::map<ValueId, size_t> col;                         // need -> column
    std::map<ValueId, size_t> free_col;                    // outside active scalar -> column
    std::map<ValueId, std::pair<size_t, size_t>> rec_col;  // load -> (value column, index column)
    ValueId k = no_value;                                  // emission: the row of this iteration
    ValueId block = no_value;                              // emission: the block
  };
  std::map<ValueId, Slots> slots_;          // per parallel_for that stays parallel
  std::map<RegionId, ValueId> slot_owner_;  // region in such a body -> its parallel_for
  Slots* record_ = nullptr;  // the parallel_for whose reverse body is being emitted

  size_t column(Slots& s) { return s.width++; }
  void plan_parallel(ValueId v);
  ValueId slot_index(Slots& s, size_t col);
  void slot_store(Slots& s, size_t col, ValueId x);
  ValueId slot_load(Slots& s, size_t col, Type t);
  ValueId as_i64(ValueId x);
  ValueId trip_rows(ValueId lo, ValueId hi);
  void fwd_parallel(ValueId v, const Node& n);
  void rev_parallel(ValueId v, const Node& n);

  // --- emission helpers -------------------------------------------------------

  ValueId emit(Op op, Type t, std::vector<ValueId> args, int64_t imm = 0, std::vector<RegionId> regions = {}) {
    ValueId v = g_.add(op, t, std::move(args), imm, loc_, std::move(regions));
    g_.regions[cur_].body.push_back(v);
    return v;
  }
  ValueId constant(Type t, double x) { return emit(Op::Const, t, {}, encode_const(t.elem, x)); }
  ValueId param(RegionId r, Type t) { return add_param(g_, r, t); }
  ValueId get(ValueId tuple, size_t k, Type t) { return emit(Op::Get, t, {tuple}, static_cast<int64_t>(k)); }

  // --- the forward sweep (reverse_forward.cpp) --------------------------------

  ValueId fv(ValueId src) const { return fwd_[src]; }

  void fwd_region(RegionId r, RegionId into);
  void push_segment(RegionId r, size_t seg, ValueId last);
  std::vector<ValueId> fargs(const Node& n) const;
  RegionId fwd_copy_region(RegionId r, const std::vector<Type>& extra_params = {});
  void fwd_node(ValueId v);

  // --- the reverse sweep (reverse_sweep.cpp) ----------------------------------

  ValueId p(ValueId src);
  void bind(ValueId src, ValueId v);
  RegionId enter(RegionId r);
  void leave(RegionId saved);
  void accumulate(ValueId src, ValueId contribution);
  ValueId adj_or_zero(ValueId src) { return adj_[src] != no_value ? adj_[src] : constant(f_.type(src), 0.0); }
  ValueId tuple_adj(ValueId tuple, size_t k, Type t);
  void clear(RegionId r);
  void rev_body(RegionId r);
  std::vector<ValueId> rev_region(RegionId r, const std::vector<ValueId>& yield_adjs, size_t first_yield = 0);
  void rev_node(ValueId v);
  ValueId adjoint_buffer(ValueId buf) const;
  void rule(ValueId v, const Node& n, ValueId g);
  void tensor_rule(ValueId v, const Node& n, ValueId g);
  std::vector<ValueId> free_adjs(ValueId s);
  void rev_if(ValueId v, const Node& n);
  void rev_for(ValueId v, const Node& n);
  ValueId zero_or(ValueId x, Type t) { return x != no_value ? x : constant(t, 0.0); }
  ValueId reverse_iterations(ValueId v, const Node& n, ValueId count, const std::vector<size_t>& carried,
                             const std::vector<ValueId>& adjs, const std::vector<ValueId>& outer);
  std::vector<size_t> float_slots(const Node& n) const;
  std::vector<ValueId> while_result_adjs(ValueId v, const Node& n);
  void rev_while(ValueId v, const Node& n);
  void rev_call(ValueId v, const Node& n);

  // --- checkpointed while_ loops (reverse_checkpoint.cpp) ---------------------

  bool checkpointed(ValueId v) const;
  std::vector<ValueId> replay(RegionId r, const std::vector<ValueId>& params);
  void rev_while_checkpointed(ValueId v, const Node& n);
};

}  // namespace kiln::autodiff::rev
