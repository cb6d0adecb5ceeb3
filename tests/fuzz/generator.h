// Random, well-typed staged programs built from a seed through kiln's public
// staging API (Rep, Arr, if_, cond, while_, for_, parallel_for_, staged
// calls), so the front end is exercised along with the passes and backends.
//
// Every program has the same entry signature:
//
//   fuzz(Rep<bool>, Rep<int32_t>, Rep<int64_t>, Rep<float>, Rep<double>,
//        Arr<int32_t>, Arr<int64_t>, Arr<float>, Arr<double>, Arr<const double>,
//        Arr<int32_t> par_i32, Arr<double> par_f64)
//     -> std::tuple<Rep<bool>, Rep<int32_t>, Rep<int64_t>, Rep<float>, Rep<double>>
//
// All buffers have buffer_size elements. Programs do not trap by
// construction: indices are masked into range, integer divisors are made
// nonzero, loops have small trip counts and recursion a clamped depth. The
// exceptions are guarded on purpose: a division by a value that is often
// zero, or a load at an unmasked index, inside an if_ or cond that tests
// it, or inside a loop that runs zero times when it would trap. A pass that
// speculates them (hoists them out of the guard) makes the program trap.
// par_i32 and par_f64 are written only by parallel_for_ bodies, iteration i
// writing element i, so the iterations are independent.
#pragma once

#include <kiln/ir/ir.h>

#include <cstdint>

namespace kiln::fuzz {

/// Elements in every buffer argument of a generated program.
inline constexpr int64_t buffer_size = 8;

/// The shape of generated programs. Each program perturbs these from its
/// seed (some features off, some weighted up) so that runs are varied.
struct Knobs {
  /// Rough size of a program (all its functions, promoted), in IR nodes.
  int size = 400;
  /// Nesting limits: statements, loops, expressions.
  int max_depth = 4;
  int max_loops = 3;
  int max_expr_depth = 4;
  /// Chance that an expression is a leaf (variable, constant, load).
  double leaf = 0.3;
  /// Chance to remember a built expression, and to reuse a remembered one
  /// (repeated subexpressions, loop invariants).
  double remember = 0.25;
  double reuse = 0.15;
  /// Relative weights of the statement kinds.
  int w_declare = 6, w_assign = 7, w_store = 4, w_if = 3, w_cond = 2, w_cond_tuple = 1, w_while = 2, w_for = 3,
      w_parallel = 2, w_call = 2, w_dead = 1, w_memo = 1, w_guarded = 2;
  /// Chance that each helper function exists in a program.
  double p_small = 0.6, p_large = 0.5, p_effect = 0.4, p_rec = 0.4;
  /// Tensor programs instead (kiln-fuzz --tensors, gen_tensor.cpp): the
  /// same entry signature, a body of tensor statements.
  bool tensors = false;
};

/// The staged module of the program for `seed` (variables not yet
/// promoted): functions[0] is the entry, then the helpers it calls. The same
/// seed and knobs give the same module on every run. Throws what staging
/// throws (a kiln::StagingError here is a bug of the generator or the front end).
ir::Module generate(uint64_t seed, const Knobs& knobs);

/// generate() with knobs.tensors: tensor expressions of small static shapes
/// over the float and double buffers, stored or reduced into the results.
ir::Module generate_tensors(uint64_t seed, const Knobs& knobs);

}  // namespace kiln::fuzz
