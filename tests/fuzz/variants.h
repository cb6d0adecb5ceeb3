// The pipelines every program goes through: unoptimised (the oracle's),
// all passes, and a random subset of passes (for pass-interaction bugs);
// and the deliberate miscompilation that proves the tester can fail.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::fuzz {

/// One pipeline configuration.
struct Variant {
  std::string name;       // "unoptimised", "all passes", "passes fold,cse,dce"
  Options options;
  bool inject = false;    // corrupt the result (--inject-bug)
};

/// The variants for the program of `seed`: [0] unoptimised (promotion only;
/// the interpreter on it is the oracle), [1] every pass, [2] a random subset
/// of the passes drawn from the seed. With `inject`, [1] and [2] are
/// corrupted after their pipeline.
std::vector<Variant> make_variants(uint64_t seed, bool inject);

/// Runs the variant's pipeline on `m` (verifying after each pass), then
/// injects the bug when asked.
ir::Module build_variant(const ir::Module& m, const Variant& v);

/// Miscompiles `m` on purpose: every float add becomes a sub (without
/// any, one float mul becomes an add). Returns what it changed, "" when nothing.
std::string inject_bug(ir::Module& m);

/// Options that run only dead-code elimination (the minimiser's cleanup).
Options dce_only();

}  // namespace kiln::fuzz
