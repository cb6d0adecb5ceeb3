// A whole random program: the helper functions (small, large, effectful,
// recursive), then the entry function that calls them.
#include "generator.h"

#include "gen_state.h"

#include <algorithm>

namespace kiln::fuzz {
namespace {

/// Per-program variation of the knobs ("swarm testing"): some statement
/// kinds are switched off, some weighted up, so programs differ in kind and
/// not only in detail.
Knobs vary(Knobs k, Rng& rng) {
  for (int* w : {&k.w_declare, &k.w_assign, &k.w_store, &k.w_if, &k.w_cond, &k.w_cond_tuple, &k.w_while, &k.w_for,
                 &k.w_parallel, &k.w_call, &k.w_dead, &k.w_memo, &k.w_guarded}) {
    int r = rng.below(10);
    if (r == 0) *w = 0;
    else if (r >= 7) *w *= 2;
  }
  k.w_assign = std::max(k.w_assign, 1);
  k.leaf = 0.2 + 0.2 * rng.below(100) / 100.0;
  k.remember = 0.1 + 0.3 * rng.below(100) / 100.0;
  k.reuse = 0.05 + 0.2 * rng.below(100) / 100.0;
  return k;
}

/// Knobs for a helper's body: fewer loops, no parallel loops.
Knobs helper_knobs(Knobs k, int max_loops) {
  k.max_loops = max_loops;
  k.max_depth = std::min(k.max_depth, 3);
  k.w_parallel = 0;
  return k;
}

void stage_helpers(Helpers& h, Rng& rng, const Knobs& knobs) {
  auto budget = [&](int lo, int hi) { return std::max(2, rng.range(lo, hi) * knobs.size / 400); };
  auto calls = [&] { return rng.chance(0.5) ? 1 : rng.range(2, 4); };

  if (rng.chance(knobs.p_small)) {
    h.has_small = true;
    h.small_calls = calls();
    const Knobs k = helper_knobs(knobs, 1);
    const int b = budget(4, 16);
    h.small = kiln::stage("small", [&](Rep<int32_t> a, Rep<double> x) -> Rep<double> {
      Generator g(rng, k, nullptr, 0, {}, b);
      g.declare(std::move(a));
      g.declare(std::move(x));
      g.block(0);
      return g.result<double>();
    });
  }
  if (rng.chance(knobs.p_large)) {
    h.has_large = true;
    h.large_calls = calls();
    const Knobs k = helper_knobs(knobs, 2);
    const int b = budget(50, 100);
    h.large = kiln::stage("large", [&](Rep<int64_t> a, Rep<float> x, Rep<bool> c, Arr<const double> buf)
                                       -> std::tuple<Rep<int64_t>, Rep<float>> {
      Buffers bufs;
      bufs.cf64 = buf;
      Generator g(rng, k, &h, Generator::call_small, bufs, b);
      g.declare(std::move(a));
      g.declare(std::move(x));
      g.declare(std::move(c));
      g.block(0);
      Rep<int64_t> r0 = g.result<int64_t>();
      Rep<float> r1 = g.result<float>();
      return {std::move(r0), std::move(r1)};
    });
  }
  if (rng.chance(knobs.p_effect)) {
    h.has_effect = true;
    h.effect_calls = calls();
    const Knobs k = helper_knobs(knobs, 2);
    const int b = budget(10, 30);
    h.effect = kiln::stage("effect", [&](Arr<int32_t> buf, Rep<int32_t> v) {
      Buffers bufs;
      bufs.i32 = buf;
      Generator g(rng, k, nullptr, 0, bufs, b);
      g.declare(std::move(v));
      g.block(0);
      g.must_store();
    });
  }
  if (rng.chance(knobs.p_rec)) {
    h.has_rec = true;
    h.rec_calls = calls();
    const Knobs k = helper_knobs(knobs, 1);
    const int b = budget(4, 16);
    const bool twice = rng.chance(0.5);
    const int base = rng.range(0, 1);
    const Bin join = rng.chance(0.5) ? Bin::add : Bin::max;
    h.rec = kiln::stage("rec", [&](Rep<int64_t> n, Rep<double> x) -> Rep<double> {
      Generator g(rng, k, nullptr, 0, {}, b);
      // n bounds the recursion: the generated body only reads it.
      Rep<int64_t>& depth = g.declare(std::move(n), false);
      g.declare(std::move(x));
      g.block(0);
      Recipe<double> leaf = g.expr<double>(1);
      Recipe<double> a1 = g.expr<double>(1);
      Recipe<double> a2 = g.expr<double>(1);
      Rep<bool> stop = depth <= base;
      return kiln::cond(
          stop,
          [&] {
            Generator::Scope s(g);
            return leaf();
          },
          [&] {
            Generator::Scope s(g);
            Rep<int64_t> n1 = depth - 1;
            Rep<double> x1 = a1();
            Rep<double> r = h.rec(n1, x1);
            if (!twice) return r;
            Rep<int64_t> n2 = depth - 2;
            Rep<double> x2 = a2();
            Rep<double> r2 = h.rec(n2, x2);
            return Generator::accumulate<double>(join, r, r2);
          });
    });
  }
}

}  // namespace

ir::Module generate(uint64_t seed, const Knobs& base) {
  if (base.tensors) return generate_tensors(seed, base);
  Rng rng(seed);
  const Knobs knobs = vary(base, rng);
  Helpers h;
  stage_helpers(h, rng, knobs);
  const unsigned callable = Generator::call_small | Generator::call_large | Generator::call_effect | Generator::call_rec;
  auto entry = kiln::stage(
      "fuzz",
      [&](Rep<bool> b, Rep<int32_t> i, Rep<int64_t> l, Rep<float> f, Rep<double> d, Arr<int32_t> bi, Arr<int64_t> bl,
          Arr<float> bf, Arr<double> bd, Arr<const double> cd, Arr<int32_t> pi,
          Arr<double> pd) -> std::tuple<Rep<bool>, Rep<int32_t>, Rep<int64_t>, Rep<float>, Rep<double>> {
        Buffers bufs{bi, bl, bf, bd, cd, pi, pd};
        // A unit of budget (a statement or an expression node) stages about
        // 1.7 IR nodes (constants, casts, projections, carried values).
        Generator g(rng, knobs, &h, callable, bufs, knobs.size * 3 / 5);
        g.declare(std::move(b));
        g.declare(std::move(i));
        g.declare(std::move(l));
        g.declare(std::move(f));
        g.declare(std::move(d));
        g.block(0);
        return {g.result<bool>(), g.result<int32_t>(), g.result<int64_t>(), g.result<float>(), g.result<double>()};
      });
  return kiln::detail::build_module(entry.state());
}

}  // namespace kiln::fuzz
