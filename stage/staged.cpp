// Staged functions: declaring, defining (running the user's lambda in a fresh
// context), staged calls, and assembling the module a function reaches.
#include <kiln/control.h>
#include <kiln/detail/staging.h>
#include <kiln/ir/verifier.h>

#include "context.h"

#include <atomic>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace kiln::detail {
namespace {

std::atomic<uint64_t> next_function_id{1};

Context& defining(const char* what) {
  Context* c = current();
  if (!c) throw InternalError(std::string(what) + " called outside staging");
  return *c;
}

}  // namespace

std::shared_ptr<StagedState> declare(std::string name, std::vector<ir::Type> params, std::vector<ir::Type> results,
                                     Loc loc) {
  auto s = std::make_shared<StagedState>();
  s->id = next_function_id++;
  s->name = std::move(name);
  s->loc = loc;
  s->params = std::move(params);
  s->results = std::move(results);
  return s;
}

void define(StagedState& state, const std::string& name, const std::vector<std::string>& param_names,
            void (*body)(void*), void* closure, Loc loc) {
  if (!param_names.empty() && param_names.size() != state.params.size())
    throw StagingError(user_message("kiln::stage(\"" + name + "\") got " + std::to_string(param_names.size()) +
                                        " parameter names for " + std::to_string(state.params.size()) + " parameters",
                                    loc, "give one name per parameter of the staged lambda, or none"));
  state.name = name;
  state.loc = loc;
  Context ctx(state, name);
  {
    ContextScope scope(ctx);
    body(closure);
  }
  ir::Function& fn = ctx.fn();
  if (fn.params().size() != state.params.size())
    throw InternalError("staged function '" + name + "' made " + std::to_string(fn.params().size()) + " of " +
                        std::to_string(state.params.size()) + " parameters");
  fn.param_names = param_names;
  state.callees = std::move(ctx.callees());
  state.forward_callees = std::move(ctx.forward_callees());
  state.fn = std::move(fn);
}

void assign(StagedState& to, const StagedState& from) {
  to.name = from.name;
  to.loc = from.loc;
  to.fn = from.fn;
  to.callees = from.callees;
  to.forward_callees = from.forward_callees;
}

std::shared_ptr<Kernel> compiled_before(StagedState& s, const Options& opts) {
  std::lock_guard<std::mutex> lock(s.compiled_mu);
  for (const StagedState::CompiledEntry& e : s.compiled)
    if (e.opts == opts) return e.kernel;
  return nullptr;
}

void remember_compiled(StagedState& s, const Options& opts, std::shared_ptr<Kernel> k) {
  std::lock_guard<std::mutex> lock(s.compiled_mu);
  for (const StagedState::CompiledEntry& e : s.compiled)
    if (e.opts == opts) return;  // another thread compiled it too
  s.compiled.push_back({opts, std::move(k)});
}

bool is_defined(const StagedState& s) { return s.fn.has_value(); }
const std::string& staged_name(const StagedState& s) { return s.name; }

ValueId function_param(size_t i) {
  Context& c = defining("function_param");
  if (i != c.fn().params().size()) throw InternalError("parameters must be made in order");
  return c.add_param(c.self().params.at(i));
}

void set_results(std::vector<ValueId> results) {
  Context& c = defining("set_results");
  const auto& want = c.self().results;
  if (results.size() != want.size()) throw InternalError("staged function returned the wrong number of values");
  for (size_t i = 0; i < results.size(); ++i)
    if (c.fn().type(results[i]) != want[i])
      throw InternalError("staged function result " + std::to_string(i) + " has the wrong type");
  c.fn().result_types = want;
  c.set_yields(std::move(results));
}

ValueId emit_call(const std::shared_ptr<StagedState>& callee, std::vector<ValueId> args, Loc loc) {
  Context* c = current();
  if (!c)
    staging_error("calling a Staged function with Reps outside staging", loc,
                  "compile() it and call the result with plain values, or call it inside another kiln::stage()");
  return c->emit_call(callee, std::move(args), loc);
}

void check_buffer(uint32_t ctx, const char* what, Loc loc) {
  Context* c = current();
  if (!c)
    staging_error(std::string(what) + " outside staging", loc,
                  "use Arrs only inside the function passed to kiln::stage()");
  if (c->serial() != ctx)
    staging_error(std::string(what) + ": an Arr from another staged function is used while staging '" + c->fn().name + "'",
                  loc, "pass the buffer as a parameter of this staged function");
}

ValueId Bound::as(ir::Scalar index, const char* role, Loc at) const {
  if (is_literal) return literal_int(index, literal_value, loc);
  if (type == index) return v;
  if (type == ir::Scalar::i32 && index == ir::Scalar::i64) return convert(v, index, loc);
  staging_error(std::string("the loop ") + role + " is " + rep_name(type) + " but the loop body takes " +
                    rep_name(index) + " (loop index type mismatch)",
                at, "take the same index type in the body, or convert the bound with kiln::cast<int32_t>(...)");
}

std::shared_ptr<StagedState> define_derived(ir::Module m, Loc loc) {
  const ir::Function& entry = m.functions.at(0);
  std::vector<ir::Type> params;
  for (ValueId p : entry.params()) params.push_back(entry.type(p));
  auto s = declare(entry.name, std::move(params), entry.result_types);
  s->fn = entry;
  s->loc = loc;
  s->derived = std::move(m);
  return s;
}

std::shared_ptr<StagedState> define_custom_vjp(const std::shared_ptr<StagedState>& f,
                                              const std::shared_ptr<StagedState>& rule, Loc loc) {
  for (const auto& s : {f, rule})
    if (!s->fn)
      throw StagingError(user_message("kiln::custom_vjp: '" + s->name + "' is declared but not defined", loc,
                                      "define both functions with kiln::stage(...) first"));
  if (f->derived)
    throw StagingError(user_message("kiln::custom_vjp: '" + f->name + "' was made by a transformation (jvp, grad)",
                                    loc, "give the rule to a function you staged yourself"));
  auto s = declare(f->name, f->params, f->results);
  assign(*s, *f);
  s->loc = loc;
  s->fn->custom_vjp = static_cast<int64_t>(rule->id);
  s->callees.push_back(rule);
  return s;
}

ir::Module build_module(const std::shared_ptr<StagedState>& root) {
  if (root->derived) return *root->derived;
  std::vector<const StagedState*> order;
  std::unordered_set<uint64_t> seen;
  std::vector<std::shared_ptr<StagedState>> keep;  // callees stay alive while we copy
  auto visit = [&](const std::shared_ptr<StagedState>& s) {
    if (!seen.insert(s->id).second) return;
    order.push_back(s.get());
    keep.push_back(s);
  };
  visit(root);
  for (size_t i = 0; i < order.size(); ++i) {
    const StagedState& s = *order[i];
    if (!s.fn)  // only the root gets here undefined: callees are checked below, where their caller is known
      throw StagingError(user_message("a kiln::Staged declared here is used but was never defined", s.loc,
                                      "assign it the result of kiln::stage(...) before compiling or exporting it"));
    for (const auto& c : s.callees) visit(c);
    for (const auto& w : s.forward_callees) {
      auto c = w.lock();
      if (!c)
        throw StagingError(user_message("a staged function called by '" + s.name + "' no longer exists", s.loc,
                                        "keep every kiln::Staged handle alive until the functions that call it are compiled"));
      if (!c->fn)
        throw StagingError(user_message("'" + s.name + "' calls a kiln::Staged declared here that was never defined", c->loc,
                                        "assign it the result of kiln::stage(...) before compiling '" + s.name + "'"));
      visit(c);
    }
  }
  // Where each function's entry lands: a derived function (made by a
  // transformation, e.g. kiln::jvp) brings its whole module, whose calls
  // name functions by their index in it.
  std::unordered_map<uint64_t, size_t> position;
  size_t next = 0;
  for (const StagedState* s : order) {
    position.emplace(s->id, next);
    next += s->derived ? s->derived->functions.size() : 1;
  }
  ir::Module m;
  std::set<std::string> names;
  auto add = [&](ir::Function f) {
    std::string name = f.name.empty() ? "f" : f.name;
    for (int k = 1; names.count(name); ++k) name = (f.name.empty() ? "f" : f.name) + "." + std::to_string(k);
    names.insert(name);
    f.name = name;
    m.functions.push_back(std::move(f));
  };
  for (const StagedState* s : order) {
    if (s->derived) {
      const size_t offset = position.at(s->id);
      for (ir::Function f : s->derived->functions) {
        for (ir::Node& n : f.nodes)
          if (n.op == ir::Op::Call) n.imm += static_cast<int64_t>(offset);
        if (f.custom_vjp >= 0) f.custom_vjp += static_cast<int64_t>(offset);
        add(std::move(f));
      }
      continue;
    }
    ir::Function f = *s->fn;
    for (ir::Node& n : f.nodes)
      if (n.op == ir::Op::Call) {
        auto it = position.find(static_cast<uint64_t>(n.imm));
        if (it == position.end()) throw InternalError("call of a staged function outside the module");
        n.imm = static_cast<int64_t>(it->second);
      }
    if (f.custom_vjp >= 0) {
      auto it = position.find(static_cast<uint64_t>(f.custom_vjp));
      if (it == position.end()) throw InternalError("custom_vjp rule outside the module");
      f.custom_vjp = static_cast<int64_t>(it->second);
    }
    add(std::move(f));
  }
  ir::verify(m, "staging", {.allow_variables = true});
  return m;
}

}  // namespace kiln::detail
