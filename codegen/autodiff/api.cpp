// The public entry points of autodiff (include/kiln/autodiff.h): the
// optimised module of a staged function in, a derived staged function out.
#include <kiln/autodiff.h>
#include <kiln/compile.h>
#include <kiln/error.h>
#include <kiln/ir/verifier.h>

#include "forward.h"
#include "reverse.h"

namespace kiln::detail {

namespace {
// Autodiff works on tensor ops themselves (their rules are tensor ops), so
// it takes the module before tensor lowering.
ir::Module tensor_level_module(const std::shared_ptr<StagedState>& f) {
  Options opts;
  opts.passes.lower_tensors = false;
  return staged_module(f, &opts);
}

// A derivative indexes each tangent or adjoint buffer with its primal
// buffer's indices, so one of another size would be read and written out
// of bounds by compiled code. The entry of `d` checks every pair when it is
// called, trapping at the user's jvp()/grad() line. Its parameters are f's,
// then from `first` on one per active parameter (`scalars_too`: jvp's
// tangents) or one per active buffer (reverse mode's adjoint buffers).
void check_buffer_sizes(ir::Module& d, const ir::Function& f, const std::vector<bool>& active, size_t first,
                        bool scalars_too, const std::string& who, const std::string& role, Loc loc) {
  ir::Function& g = d.functions.at(0);
  const auto& ps = f.params();
  const ir::Type i64 = ir::Type::scalar(ir::Scalar::i64), i1 = ir::Type::scalar(ir::Scalar::i1);
  std::vector<ValueId> checks;
  size_t k = first;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (!active[i]) continue;
    const bool buffer = f.type(ps[i]).kind == ir::TypeKind::buf;
    if (!buffer && !scalars_too) continue;
    const size_t at = k++;
    if (!buffer) continue;
    const ValueId want = g.add(ir::Op::Size, i64, {g.params().at(i)}, 0, loc);
    const ValueId have = g.add(ir::Op::Size, i64, {g.params().at(at)}, 0, loc);
    const ValueId same = g.add(ir::Op::Eq, i1, {have, want}, 0, loc);
    const int64_t message = ir::intern_message(
        who + ": the " + role + " buffer (argument " + std::to_string(at) +
            ") must have as many elements as buffer parameter " + std::to_string(i),
        "give the " + role + " buffer as many elements as argument " + std::to_string(i));
    checks.insert(checks.end(), {want, have, same, g.add(ir::Op::Check, {}, {same}, message, loc)});
  }
  auto& body = g.regions[g.body].body;
  body.insert(body.begin(), checks.begin(), checks.end());
}

// Reverse mode writes each gradient buffer while it still reads the other
// buffers (and passes such as forward_fill rely on it): a gradient buffer
// that overlapped another buffer argument would give wrong gradients. The
// entry of `d` checks, when it is called, that each of its `count` adjoint
// buffers from parameter `first` on overlaps no other buffer parameter,
// trapping at the user's grad()/vjp() line. Inserted before the body.
void check_adjoints_disjoint(ir::Module& d, size_t first, size_t count, const std::string& who,
                             const std::string& role, Loc loc) {
  ir::Function& g = d.functions.at(0);
  const std::vector<ValueId> ps = g.params();
  const ir::Type i1 = ir::Type::scalar(ir::Scalar::i1);
  std::vector<ValueId> checks;
  for (size_t a = first; a < first + count && a < ps.size(); ++a)
    for (size_t x = 0; x < ps.size(); ++x) {
      // One check per pair: adjoint buffers among themselves once.
      if (x == a || g.type(ps[x]).kind != ir::TypeKind::buf || (x >= first && x < first + count && x < a)) continue;
      const ValueId apart = g.add(ir::Op::Disjoint, i1, {ps[a], ps[x]}, 0, loc);
      const int64_t message = ir::intern_message(
          who + ": the " + role + " buffer (argument " + std::to_string(a) + ") overlaps argument " + std::to_string(x),
          "give each " + role + " buffer storage of its own: it is written while the other arguments are still read");
      checks.insert(checks.end(), {apart, g.add(ir::Op::Check, {}, {apart}, message, loc)});
    }
  auto& body = g.regions[g.body].body;
  body.insert(body.begin(), checks.begin(), checks.end());
}

}  // namespace

std::shared_ptr<StagedState> jvp_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt, Loc loc) {
  ir::Module m = tensor_level_module(f);
  ir::Module d;
  try {
    d = autodiff::jvp(m, wrt);
  } catch (const StagingError& e) {
    throw StagingError(user_message(e.what(), loc, "differentiate with respect to floating-point parameters only"));
  }
  const ir::Function& entry = m.functions.at(0);
  check_buffer_sizes(d, entry, autodiff::jvp_active(entry, wrt), entry.params().size(), true, "kiln::jvp", "tangent",
                     loc);
  ir::verify(d, "autodiff::jvp");
  return define_derived(std::move(d), loc);
}

std::shared_ptr<StagedState> reverse_state(const std::shared_ptr<StagedState>& f, const std::vector<size_t>& wrt,
                                           int mode, const ReverseOptions& opts, Loc loc) {
  if (opts.checkpoint_every < 0)
    throw StagingError(user_message("ReverseOptions::checkpoint_every is " + std::to_string(opts.checkpoint_every), loc,
                                    "give a positive interval, or 0 to tape every iteration"));
  ir::Module m = tensor_level_module(f);
  ir::Module d;
  const auto rm = static_cast<autodiff::ReverseMode>(mode);
  try {
    d = autodiff::reverse(m, wrt, rm, opts.checkpoint_every, opts.parallel);
  } catch (const StagingError& e) {
    throw StagingError(user_message(e.what(), loc, "differentiate a function of floating-point parameters"));
  }
  const ir::Function& entry = m.functions.at(0);
  size_t cotangents = 0;
  if (rm == autodiff::ReverseMode::vjp)
    for (ir::Type t : entry.result_types) cotangents += t.is_float();
  const char* who = rm == autodiff::ReverseMode::vjp    ? "kiln::vjp"
                    : rm == autodiff::ReverseMode::grad ? "kiln::grad"
                                                        : "kiln::value_and_grad";
  const std::vector<bool> active = autodiff::jvp_active(entry, wrt);
  size_t adjoints = 0;
  for (size_t i = 0; i < entry.params().size(); ++i)
    adjoints += active[i] && entry.type(entry.params()[i]).kind == ir::TypeKind::buf;
  const std::string role = rm == autodiff::ReverseMode::vjp ? "adjoint" : "gradient";
  // Inserted first, so they run after the size checks inserted next.
  check_adjoints_disjoint(d, entry.params().size() + cotangents, adjoints, who, role, loc);
  check_buffer_sizes(d, entry, active, entry.params().size() + cotangents, false, who, role, loc);
  ir::verify(d, "autodiff::reverse");
  return define_derived(std::move(d), loc);
}

}  // namespace kiln::detail
