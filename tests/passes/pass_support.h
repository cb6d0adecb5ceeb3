// Running one pass on staged IR in tests: the module before and after, its
// text for check lines, the verifier after the pass, and a differential run
// on the interpreter (the oracle) proving the pass kept the meaning.
#pragma once

#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include "backends/interp/interpreter.h"
#include "codegen/passes/passes.h"
#include "support.h"

#include <cstring>
#include <string>
#include <vector>

namespace kiln::test {

using PassFn = void (*)(ir::Module&, const Options&);

struct PassRun {
  ir::Module before, after;
  std::string before_text, after_text;
};

/// Stages nothing new: takes s's promoted, unoptimised module, runs `pass`
/// once with `opts` and verifies the result.
template <class Sig>
PassRun run_pass(const Staged<Sig>& s, PassFn pass, const Options& opts = {}) {
  PassRun r;
  r.before = s.module(unoptimised);
  r.before_text = ir::print(r.before);
  r.after = r.before;
  pass(r.after, opts);
  ir::verify(r.after, "test");
  r.after_text = ir::print(r.after);
  return r;
}

/// Bit-exact equality of two result slots of scalar type t (any NaN equals any NaN).
inline bool same_slot(const detail::Slot& a, const detail::Slot& b, ir::Type t) {
  if (t.elem == ir::Scalar::f32 && a.f32 != a.f32) return b.f32 != b.f32;
  if (t.elem == ir::Scalar::f64 && a.f64 != a.f64) return b.f64 != b.f64;
  if (t.elem == ir::Scalar::f32) return std::memcmp(&a.f32, &b.f32, sizeof(float)) == 0;
  if (t.elem == ir::Scalar::f64) return std::memcmp(&a.f64, &b.f64, sizeof(double)) == 0;
  return a.i == b.i;
}

/// Runs both modules on the interpreter with `args` (scalars only) and
/// checks every result is bit-identical.
inline void check_same_results(const PassRun& r, const std::vector<detail::Slot>& args) {
  std::vector<detail::Slot> a = interp::run(r.before, args);
  std::vector<detail::Slot> b = interp::run(r.after, args);
  REQUIRE(a.size() == b.size());
  const auto& types = r.before.functions[0].result_types;
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result " << i << "\nbefore:\n" << r.before_text << "after:\n" << r.after_text);
    CHECK(same_slot(a[i], b[i], types[i]));
  }
}

inline detail::Slot i64(int64_t v) { detail::Slot s; s.i = v; return s; }
inline detail::Slot f32(float v) { detail::Slot s; s.i = 0; s.f32 = v; return s; }
inline detail::Slot f64(double v) { detail::Slot s; s.f64 = v; return s; }

}  // namespace kiln::test
