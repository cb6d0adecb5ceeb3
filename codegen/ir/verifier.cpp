// The verifier: scoping (every operand dominates its use), operand types (by
// the op table's shape column), region signatures of structured ops, tuple
// projections and calls.
#include <kiln/error.h>
#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include "check.h"

#include <functional>
#include <unordered_set>

namespace kiln::ir {
namespace {

bool passes_as(Type actual, Type expected) {
  if (actual == expected) return true;
  // A read-write buffer may be passed where a read-only one is expected.
  return actual.kind == TypeKind::buf && expected.kind == TypeKind::buf && actual.elem == expected.elem &&
         actual.writable && !expected.writable;
}

class Verifier {
 public:
  Verifier(const Module& m, VerifyOptions opts) : m_(m), opts_(opts) {}

  std::vector<VerifyError> run() {
    for (size_t i = 0; i < m_.functions.size(); ++i) {
      index_ = i;
      current_ = no_value;
      function(m_.functions[i]);
    }
    return std::move(errors_);
  }

 private:
  const Module& m_;
  VerifyOptions opts_;
  std::vector<VerifyError> errors_;
  const Function* f_ = nullptr;
  size_t index_ = 0;
  ValueId current_ = no_value;  // the value being checked: what an error concerns
  std::vector<char> visible_;   // per node: currently in scope
  std::vector<char> placed_;    // per node: listed in some region
  std::vector<char> region_used_;

  void error(const std::string& what) { errors_.push_back({index_, current_, "in @" + f_->name + ": " + what}); }
  std::string name(ValueId v) const {
    std::string id = opts_.value_name ? opts_.value_name(*f_, v) : std::string("%");
    if (!opts_.value_name) id += std::to_string(v);
    return id + " (" + std::string(info(f_->node(v).op).spelling) + ")";
  }

  void function(const Function& f) {
    f_ = &f;
    visible_.assign(f.nodes.size(), 0);
    placed_.assign(f.nodes.size(), 0);
    region_used_.assign(f.regions.size(), 0);
    if (f.body >= f.regions.size()) return error("body region does not exist");
    region_used_[f.body] = 1;
    region(f.body);
    const Region& body = f.region(f.body);
    if (body.yields.size() != f.result_types.size())
      return error("returns " + std::to_string(body.yields.size()) + " values, declared " +
                   std::to_string(f.result_types.size()));
    for (size_t i = 0; i < body.yields.size(); ++i)
      if (body.yields[i] < f.nodes.size() && f.type(body.yields[i]) != f.result_types[i])
        error("result " + std::to_string(i) + " has type " + to_string(f.type(body.yields[i])) + ", declared " +
              to_string(f.result_types[i]));
    if (f.custom_vjp >= 0) custom_vjp(f);
  }

  // A rule takes f's parameters, then a cotangent per float result, and
  // returns the gradient of each float parameter; f has scalars only.
  void custom_vjp(const Function& f) {
    if (static_cast<size_t>(f.custom_vjp) >= m_.functions.size())
      return error("custom_vjp names function #" + std::to_string(f.custom_vjp) + ", which is not in the module");
    const Function& rule = m_.functions[static_cast<size_t>(f.custom_vjp)];
    std::vector<Type> params, results;
    for (ValueId p : f.params()) {
      if (!f.type(p).is_scalar()) return error("has a custom_vjp rule but takes a buffer (rules are for scalars)");
      params.push_back(f.type(p));
      if (f.type(p).is_float()) results.push_back(f.type(p));
    }
    for (Type t : f.result_types) {
      if (!t.is_scalar()) return error("has a custom_vjp rule but returns a non-scalar");
      if (t.is_float()) params.push_back(t);
    }
    std::vector<Type> got;
    for (ValueId p : rule.params()) got.push_back(rule.type(p));
    if (got != params || rule.result_types != results)
      error("custom_vjp rule @" + rule.name + " must take the parameters and float-result cotangents and return the "
            "float-parameter gradients");
  }

  bool use(ValueId v, ValueId user) {
    if (v >= f_->nodes.size()) {
      error("operand %" + std::to_string(v) + " of " + name(user) + " does not exist");
      return false;
    }
    if (!visible_[v]) {
      error(name(v) + " is used by " + name(user) + " where it is not defined (does not dominate its use)");
      return false;
    }
    return true;
  }

  void region(RegionId r) {
    const Region& reg = f_->region(r);
    const ValueId owner = current_;
    std::vector<ValueId> scope;
    for (size_t i = 0; i < reg.params.size(); ++i) {
      ValueId p = reg.params[i];
      current_ = p < f_->nodes.size() ? p : owner;
      if (p >= f_->nodes.size() || f_->node(p).op != Op::Param) {
        error("region parameter " + std::to_string(i) + " is not a param node");
        continue;
      }
      if (placed_[p]) error(name(p) + " is listed in more than one place");
      placed_[p] = visible_[p] = 1;
      scope.push_back(p);
      if (f_->node(p).imm != static_cast<int64_t>(i)) error(name(p) + " has position " + std::to_string(f_->node(p).imm) + ", expected " + std::to_string(i));
    }
    for (ValueId v : reg.body) {
      if (v >= f_->nodes.size()) {
        error("region lists %" + std::to_string(v) + ", which does not exist");
        continue;
      }
      current_ = v;
      if (placed_[v]) error(name(v) + " is listed in more than one place");
      placed_[v] = 1;
      node(v);
      visible_[v] = 1;
      scope.push_back(v);
    }
    current_ = owner;
    for (ValueId y : reg.yields) use(y, reg.body.empty() ? y : reg.body.back());
    for (ValueId v : scope) visible_[v] = 0;
  }

  std::vector<Type> yield_types(RegionId r, size_t from = 0) const {
    std::vector<Type> ts;
    const auto& ys = f_->region(r).yields;
    for (size_t i = from; i < ys.size(); ++i) ts.push_back(ys[i] < f_->nodes.size() ? f_->type(ys[i]) : Type{});
    return ts;
  }
  std::vector<Type> param_types(RegionId r, size_t from = 0) const {
    std::vector<Type> ts;
    const auto& ps = f_->region(r).params;
    for (size_t i = from; i < ps.size(); ++i) ts.push_back(ps[i] < f_->nodes.size() ? f_->type(ps[i]) : Type{});
    return ts;
  }
  std::vector<Type> arg_types(const Node& n, size_t from) const {
    std::vector<Type> ts;
    for (size_t i = from; i < n.args.size(); ++i) ts.push_back(f_->type(n.args[i]));
    return ts;
  }
  static std::string list(const std::vector<Type>& ts) {
    std::string s = "(";
    for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + to_string(ts[i]);
    return s + ")";
  }
  void expect(const std::vector<Type>& got, const std::vector<Type>& want, ValueId v, const std::string& what) {
    if (got != want) error(name(v) + ": " + what + " are " + list(got) + ", expected " + list(want));
  }

  void node(ValueId v) {
    const Node& n = f_->node(v);
    const OpInfo& oi = info(n.op);
    if (oi.nargs >= 0 && static_cast<int>(n.args.size()) != oi.nargs)
      return error(name(v) + " has " + std::to_string(n.args.size()) + " operands, expected " + std::to_string(oi.nargs));
    if (static_cast<int>(n.regions.size()) != oi.nregions)
      return error(name(v) + " has " + std::to_string(n.regions.size()) + " regions, expected " + std::to_string(oi.nregions));
    for (ValueId a : n.args)
      if (!use(a, v)) return;
    for (RegionId r : n.regions) {
      if (r >= f_->regions.size()) return error(name(v) + " owns a region that does not exist");
      if (region_used_[r]) return error(name(v) + " owns a region that is owned elsewhere");
      region_used_[r] = 1;
    }
    if (n.op == Op::Param) return error(name(v) + " appears in a region body; params belong in region parameter lists");
    if (std::string why = check_operands(*f_, n.op, n.type, n.args, n.imm); !why.empty()) return error(name(v) + ": " + why);
    if (is_tape_op(n.op) && (n.imm < 0 || n.imm >= tape_levels))
      return error(name(v) + " names tape " + std::to_string(n.imm) + "; tapes are 0 to " +
                   std::to_string(tape_levels - 1));
    if (!opts_.allow_variables && (n.op == Op::VarLoad || n.op == Op::VarStore))
      error(name(v) + " remains after variable promotion");
    for (RegionId r : n.regions) region(r);
    current_ = v;
    structured(v, n);
  }

  void structured(ValueId v, const Node& n) {
    switch (n.op) {
      case Op::If:
        expect(param_types(n.regions[0]), {}, v, "then-region parameters");
        expect(param_types(n.regions[1]), {}, v, "else-region parameters");
        expect(yield_types(n.regions[1]), yield_types(n.regions[0]), v, "else-region yields");
        return;
      case Op::For: {
        std::vector<Type> want = {f_->type(n.args[0])};
        for (Type t : arg_types(n, 3)) want.push_back(t);
        expect(param_types(n.regions[0]), want, v, "body parameters");
        expect(yield_types(n.regions[0]), arg_types(n, 3), v, "body yields");
        return;
      }
      case Op::While: {
        expect(param_types(n.regions[0]), arg_types(n, 0), v, "cond-region parameters");
        auto ys = yield_types(n.regions[0]);
        if (ys.empty() || ys[0] != Type::scalar(Scalar::i1)) return error(name(v) + ": cond region must yield an i1 first");
        expect(param_types(n.regions[1]), yield_types(n.regions[0], 1), v, "body parameters");
        expect(yield_types(n.regions[1]), arg_types(n, 0), v, "body yields");
        return;
      }
      case Op::ParallelFor:
        expect(param_types(n.regions[0]), {f_->type(n.args[0])}, v, "body parameters");
        expect(yield_types(n.regions[0]), {}, v, "body yields");
        return;
      case Op::Call: {
        if (n.imm < 0 || static_cast<size_t>(n.imm) >= m_.functions.size())
          return error(name(v) + " calls function #" + std::to_string(n.imm) + ", which is not in the module");
        const Function& callee = m_.functions[n.imm];
        const auto& ps = callee.params();
        if (ps.size() != n.args.size())
          return error(name(v) + " passes " + std::to_string(n.args.size()) + " arguments to @" + callee.name +
                       ", which takes " + std::to_string(ps.size()));
        for (size_t i = 0; i < ps.size(); ++i)
          if (!passes_as(f_->type(n.args[i]), callee.type(ps[i])))
            error(name(v) + " argument " + std::to_string(i) + " is " + to_string(f_->type(n.args[i])) +
                  ", @" + callee.name + " expects " + to_string(callee.type(ps[i])));
        return;
      }
      case Op::Get: {
        const Node& t = f_->node(n.args[0]);
        auto ts = tuple_types(m_, *f_, t);
        if (n.imm < 0 || static_cast<size_t>(n.imm) >= ts.size())
          return error(name(v) + " projects element " + std::to_string(n.imm) + " of a " + std::to_string(ts.size()) + "-tuple");
        if (ts[n.imm] != n.type)
          error(name(v) + " has type " + to_string(n.type) + ", element is " + to_string(ts[n.imm]));
        return;
      }
      default:
        return;
    }
  }
};

}  // namespace

std::vector<VerifyError> verify_located(const Module& m, VerifyOptions opts) { return Verifier(m, opts).run(); }

std::vector<std::string> verify_errors(const Module& m, VerifyOptions opts) {
  std::vector<std::string> out;
  for (VerifyError& e : verify_located(m, std::move(opts))) out.push_back(std::move(e.message));
  return out;
}

void verify(const Module& m, std::string_view stage, VerifyOptions opts) {
  auto errors = verify_errors(m, opts);
  if (errors.empty()) return;
  std::string msg = "IR verification failed after " + std::string(stage) + ":\n";
  for (const auto& e : errors) msg += "  " + e + "\n";
  msg += "IR:\n" + print(m);
  throw InternalError(msg);
}

uint64_t structural_hash(const Module& m) {
  // FNV-1a over the canonical text: the text is renumbered and location-free,
  // so it is exactly the structure.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : print(m)) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool structurally_equal(const Module& a, const Module& b) { return print(a) == print(b); }

}  // namespace kiln::ir
