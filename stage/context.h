// The thread-local staging context: the function being built, the stack of
// open regions (frames), and the staging variables behind every Rep.
//
// Variables. Every Rep has a variable identity from construction. Each open
// frame caches the variable's current SSA value; a read in a frame that has
// no cached value emits `var.load`, a frame that assigned a variable declared
// outside it emits `var.store` when it closes. Before a frame first touches a
// variable, the nearest enclosing frame's unstored value is stored (at the
// end of that frame's body, which is exactly before the structured op being
// built). Deciding nothing at staging time is what makes `while_` right: its
// condition is staged before the body that assigns the variables it reads.
// promote_variables() then turns var.load/var.store into SSA.
#pragma once

#include <kiln/compile.h>
#include <kiln/detail/staging.h>
#include <kiln/ir/ir.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace kiln::detail {

struct StagedState {
  uint64_t id = 0;
  std::string name;
  std::vector<ir::Type> params, results;
  /// The staged IR; call nodes name callees by StagedState::id.
  std::optional<ir::Function> fn;
  /// Functions this one calls that were defined when it was staged.
  std::vector<std::shared_ptr<StagedState>> callees;
  /// Functions it calls that were only declared then (itself, mutual
  /// recursion). Held weakly: strong references could form a cycle and leak;
  /// the user's Staged handle keeps a declared function alive.
  std::vector<std::weak_ptr<StagedState>> forward_callees;
  Loc loc;
  /// A function made by a transformation (autodiff): its whole module,
  /// entry first, already promoted; `fn` is a copy of the entry.
  std::optional<ir::Module> derived;
  /// What compile() made of this function, by options (compiled_before).
  struct CompiledEntry {
    Options opts;
    std::shared_ptr<Kernel> kernel;
  };
  std::mutex compiled_mu;
  std::vector<CompiledEntry> compiled;
};

/// Key of a pure node for hash-consing.
struct PureKey {
  ir::Op op;
  ir::Type type;
  int64_t imm;
  std::array<ValueId, 3> args;
  bool operator==(const PureKey&) const = default;
};
struct PureKeyHash {
  size_t operator()(const PureKey& k) const noexcept;
};

/// A variable's cached value in one frame.
struct VarEntry {
  uint32_t depth = 0;
  uint32_t serial = 0;
  ValueId value = ir::no_value;
  bool stored = false;  // memory ($n) already holds `value`
};

struct VarInfo {
  VarEntry home;        // the declaring frame; value == no_value when stale
  std::vector<VarEntry> inner;  // deeper open frames, increasing depth
  bool materialized = false;    // some var.store of it exists
  Loc loc;
};

struct Frame {
  ir::RegionId region = 0;
  uint32_t serial = 0;
  bool parallel = false;
  Loc loc;
  std::vector<uint32_t> touched;  // variables with an inner entry for this frame
  std::vector<PureKey> pure_keys;  // hash-consed in this frame, forgotten when it closes
};

class Context {
 public:
  Context(StagedState& self, std::string name);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  uint32_t serial() const { return serial_; }
  ir::Function& fn() { return fn_; }
  StagedState& self() { return self_; }
  std::vector<std::shared_ptr<StagedState>>& callees() { return callees_; }
  std::vector<std::weak_ptr<StagedState>>& forward_callees() { return forward_callees_; }

  ValueId emit(ir::Op op, ir::Type type, std::vector<ValueId> args, Loc loc, int64_t imm);
  ValueId emit_call(const std::shared_ptr<StagedState>& callee, std::vector<ValueId> args, Loc loc);
  void drop_trailing_load(ValueId load);

  uint32_t new_var(ValueId v, Loc loc);
  ValueId read_var(uint32_t var, ir::Scalar s, Loc loc);
  void write_var(uint32_t var, ValueId v, Loc loc);

  void open_frame(ir::RegionId r, bool parallel, Loc loc);
  /// Leaves the innermost frame; `emit_stores` false when unwinding.
  void close_frame(bool emit_stores);
  ValueId add_param(ir::Type t);
  /// Sets the yields of the innermost frame's region.
  void set_yields(std::vector<ValueId> yields) { fn_.regions[top().region].yields = std::move(yields); }
  /// The innermost open frame, and whether a frame is still open (a value
  /// made in a frame is usable only while it is).
  uint32_t frame_serial() const { return frames_.back().serial; }
  bool frame_open(uint32_t serial) const {
    for (const Frame& f : frames_)
      if (f.serial == serial) return true;
    return false;
  }
  /// Appends an already built node to the innermost frame's region.
  void append_here(ValueId v) { fn_.regions[top().region].body.push_back(v); }

 private:
  uint32_t serial_;
  StagedState& self_;
  ir::Function fn_;
  std::vector<Frame> frames_;
  // One function-wide table of pure nodes visible from the innermost frame
  // (a scoped hash table): a lookup costs the same at any nesting depth.
  std::unordered_map<PureKey, ValueId, PureKeyHash> pure_;
  /// The region of each tensor-typed value in pure_: tensors are reused
  /// only within their own region (see emit()).
  std::unordered_map<ValueId, ir::RegionId> tensor_home_;
  std::vector<VarInfo> vars_;
  std::vector<std::shared_ptr<StagedState>> callees_;
  std::vector<std::weak_ptr<StagedState>> forward_callees_;
  uint32_t next_frame_serial_ = 1;

  Frame& top() { return frames_.back(); }
  uint32_t depth() const { return static_cast<uint32_t>(frames_.size() - 1); }
  bool is_open(const VarEntry& e) const { return e.depth < frames_.size() && frames_[e.depth].serial == e.serial; }
  void append(uint32_t frame_depth, ValueId v) { fn_.regions[frames_[frame_depth].region].body.push_back(v); }
  VarInfo& checked_var(uint32_t var, Loc loc, const char* what);
  /// The nearest enclosing frame's entry of a variable, or null when stale.
  VarEntry* nearest(VarInfo& vi);
  /// Makes sure memory holds the nearest enclosing frame's value.
  void materialize(uint32_t var, VarInfo& vi);
};

/// The innermost context of this thread, or null.
Context* current();

/// Makes `ctx` current for its lifetime; restores the previous one after.
class ContextScope {
 public:
  explicit ContextScope(Context& ctx);
  ~ContextScope();

 private:
  Context* saved_;
};

}  // namespace kiln::detail
