// The staging context: node emission with hash-consing, region frames and
// the variable protocol described in context.h.
#include "context.h"

#include <algorithm>
#include <atomic>

namespace kiln::detail {
namespace {

thread_local Context* tl_current = nullptr;
std::atomic<uint32_t> next_context_serial{1};

}  // namespace

size_t PureKeyHash::operator()(const PureKey& k) const noexcept {
  uint64_t h = static_cast<uint64_t>(k.op) * 0x9E3779B97F4A7C15ull;
  auto mix = [&](uint64_t x) { h = (h ^ x) * 0xff51afd7ed558ccdull; h ^= h >> 32; };
  mix(static_cast<uint64_t>(k.type.elem) | static_cast<uint64_t>(k.type.kind) << 8);
  mix(static_cast<uint64_t>(k.imm));
  for (ValueId a : k.args) mix(a);
  return static_cast<size_t>(h);
}

Context::Context(StagedState& self, std::string name) : serial_(next_context_serial++), self_(self) {
  fn_.name = std::move(name);
  fn_.body = fn_.add_region();
  frames_.push_back(Frame{fn_.body, next_frame_serial_++, false, self.loc, {}, {}});
}

Context* current() { return tl_current; }

ContextScope::ContextScope(Context& ctx) : saved_(tl_current) { tl_current = &ctx; }
ContextScope::~ContextScope() { tl_current = saved_; }

ValueId Context::emit(ir::Op op, ir::Type type, std::vector<ValueId> args, Loc loc, int64_t imm) {
  const bool pure = ir::info(op).effect == ir::Effect::pure && op != ir::Op::Param && args.size() <= 3;
  PureKey key{op, type, imm, {ir::no_value, ir::no_value, ir::no_value}};
  bool known = false;  // an equal node is in the table (then it keeps the entry)
  if (pure) {
    for (size_t i = 0; i < args.size(); ++i) key.args[i] = args[i];
    // Everything in the table was defined in an open enclosing region, so it
    // dominates this point. A tensor is reused only from this region:
    // reverse mode cannot differentiate a tensor made outside a loop and
    // used inside it, so reusing an outer one would reject a program as the
    // user wrote it.
    if (auto it = pure_.find(key); it != pure_.end()) {
      if (!type.is_tensor() || tensor_home_[it->second] == top().region) return it->second;
      known = true;
    }
  }
  ValueId v = fn_.add(op, type, std::move(args), imm, loc);
  fn_.regions[top().region].body.push_back(v);
  if (pure) {
    if (type.is_tensor()) tensor_home_[v] = top().region;
    if (known) return v;
    pure_.emplace(key, v);
    if (frames_.size() > 1) top().pure_keys.push_back(key);  // the root frame never closes
  }
  return v;
}

ValueId Context::emit_call(const std::shared_ptr<StagedState>& callee, std::vector<ValueId> args, Loc loc) {
  if (args.size() != callee->params.size())
    throw InternalError("staged call of '" + callee->name + "' with " + std::to_string(args.size()) + " arguments");
  for (size_t i = 0; i < args.size(); ++i) {
    ir::Type have = fn_.type(args[i]), want = callee->params[i];
    bool ok = have == want || (have.kind == ir::TypeKind::buf && want.kind == ir::TypeKind::buf &&
                               have.elem == want.elem && have.writable);
    if (!ok)
      staging_error("argument " + std::to_string(i) + " of the call to '" + callee->name + "' is " +
                        ir::to_string(have) + ", the function takes " + ir::to_string(want),
                    loc, "pass a value of the parameter's type");
  }
  if (callee->fn) {
    if (std::find(callees_.begin(), callees_.end(), callee) == callees_.end()) callees_.push_back(callee);
  } else {
    bool known = false;
    for (const auto& w : forward_callees_) known = known || w.lock() == callee;
    if (!known) forward_callees_.push_back(callee);
  }
  ValueId v = fn_.add(ir::Op::Call, ir::Type::tuple(), std::move(args), static_cast<int64_t>(callee->id), loc);
  fn_.regions[top().region].body.push_back(v);
  return v;
}

void Context::drop_trailing_load(ValueId load) {
  // The load was emitted for `y[i]` just before `= v` converted v (a constant
  // or cast may follow it). Drop it when nothing after it uses it.
  auto& body = fn_.regions[top().region].body;
  constexpr size_t lookback = 8;
  for (size_t k = body.size(); k-- > 0 && body.size() - k <= lookback;) {
    if (body[k] != load) continue;
    for (size_t j = k + 1; j < body.size(); ++j)
      for (ValueId a : fn_.node(body[j]).args)
        if (a == load) return;
    body.erase(body.begin() + static_cast<std::ptrdiff_t>(k));
    return;
  }
}

ValueId Context::add_param(ir::Type t) {
  auto& params = fn_.regions[top().region].params;
  ValueId v = fn_.add(ir::Op::Param, t, {}, static_cast<int64_t>(params.size()), top().loc);
  fn_.regions[top().region].params.push_back(v);
  return v;
}

void Context::open_frame(ir::RegionId r, bool parallel, Loc loc) {
  frames_.push_back(Frame{r, next_frame_serial_++, parallel, loc, {}, {}});
}

void Context::close_frame(bool emit_stores) {
  Frame& f = top();
  const uint32_t d = depth();
  for (uint32_t var : f.touched) {
    VarInfo& vi = vars_[var];
    if (vi.inner.empty() || vi.inner.back().depth != d || vi.inner.back().serial != f.serial) continue;
    VarEntry e = vi.inner.back();
    vi.inner.pop_back();
    if (e.stored || !emit_stores) continue;
    if (f.parallel)
      staging_error("a Rep declared outside kiln::parallel_for_ (at " + where(vi.loc) + ") is assigned inside its body",
                    f.loc, "iterations are independent: write each iteration's result to its own Arr element");
    ValueId st = fn_.add(ir::Op::VarStore, {}, {e.value}, var, fn_.node(e.value).loc);
    fn_.regions[f.region].body.push_back(st);
    // Every enclosing cached value is now stale: the op being built changed it.
    vi.inner.clear();
    vi.home.value = ir::no_value;
    vi.materialized = true;
  }
  for (const PureKey& k : f.pure_keys) pure_.erase(k);
  frames_.pop_back();
}

uint32_t Context::new_var(ValueId v, Loc loc) {
  VarInfo vi;
  vi.home = VarEntry{depth(), top().serial, v, false};
  vi.loc = loc;
  vars_.push_back(std::move(vi));
  return static_cast<uint32_t>(vars_.size() - 1);
}

VarInfo& Context::checked_var(uint32_t var, Loc loc, const char* what) {
  if (var >= vars_.size()) throw InternalError("unknown staging variable $" + std::to_string(var));
  VarInfo& vi = vars_[var];
  if (!is_open(vi.home))
    staging_error(std::string(what) + " a Rep that was created inside a staged region that has ended (created at " +
                      where(vi.loc) + ")",
                  loc, "declare the Rep before the if_/for_/while_ and assign it inside, or return it from kiln::cond");
  return vi;
}

VarEntry* Context::nearest(VarInfo& vi) {
  if (!vi.inner.empty()) return &vi.inner.back();
  if (vi.home.value != ir::no_value) return &vi.home;
  return nullptr;
}

void Context::materialize(uint32_t var, VarInfo& vi) {
  VarEntry* e = nearest(vi);
  if (!e) {
    if (!vi.materialized) throw InternalError("staging variable $" + std::to_string(var) + " has no value");
    return;
  }
  if (e->stored) return;
  ValueId st = fn_.add(ir::Op::VarStore, {}, {e->value}, var, fn_.node(e->value).loc);
  append(e->depth, st);
  e->stored = true;
  vi.materialized = true;
}

ValueId Context::read_var(uint32_t var, ir::Scalar s, Loc loc) {
  VarInfo& vi = checked_var(var, loc, "reading");
  const uint32_t d = depth();
  if (!vi.inner.empty() && vi.inner.back().depth == d) return vi.inner.back().value;
  if (vi.home.depth == d && vi.home.value != ir::no_value) return vi.home.value;
  // The value lives in an enclosing frame (or is stale): go through memory.
  materialize(var, vi);
  ValueId v = fn_.add(ir::Op::VarLoad, ir::Type::scalar(s), {}, var, loc);
  fn_.regions[top().region].body.push_back(v);
  if (vi.home.depth == d) {
    vi.home.value = v;
    vi.home.stored = true;
    return v;
  }
  vi.inner.push_back(VarEntry{d, top().serial, v, true});
  top().touched.push_back(var);
  return v;
}

void Context::write_var(uint32_t var, ValueId v, Loc loc) {
  VarInfo& vi = checked_var(var, loc, "assigning");
  const uint32_t d = depth();
  if (vi.home.depth == d) {
    vi.home.value = v;
    vi.home.stored = false;
    return;
  }
  if (!vi.inner.empty() && vi.inner.back().depth == d) {
    vi.inner.back().value = v;
    vi.inner.back().stored = false;
    return;
  }
  // First touch in this frame: the enclosing value must reach the other
  // paths (the else branch, the loop entry) through memory.
  materialize(var, vi);
  vi.inner.push_back(VarEntry{d, top().serial, v, false});
  top().touched.push_back(var);
}

}  // namespace kiln::detail
