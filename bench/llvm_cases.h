// Part 2 of bench/llvm_backend.cpp, run time: each kernel of kernels.h with
// its inputs at two sizes (the task's, and a small one that the interpreter
// checks), how to call it staged and by hand, which outputs must agree bit
// for bit, and the RunCase each becomes (checked, then timed). Plus the
// backend options every part uses. Included once, by llvm_backend.cpp.
#pragma once

#include "bench_support.h"
#include "kernels.h"

#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kiln::bench;  // bench_support.h

const kiln::Options kLlvm{.backend = kiln::Backend::llvm};
const kiln::Options kLlvmNoAlias{.backend = kiln::Backend::llvm, .assume_no_alias = true};
const kiln::Options kCxx{.backend = kiln::Backend::cxx};
const kiln::Options kInterp{.backend = kiln::Backend::interp};

/// Deterministic values in [0.25, 1.75): the chain's inputs, so that
/// sqrt(x * y + 1) is never of a negative number.
Buf<float> positive_values(size_t n, uint64_t seed) {
  Buf<float> v = aligned_values<float>(n, seed);
  for (float& e : v) e = e * 0.5f + 1.0f;
  return v;
}

// Input sizes: the full ones of the task, and small ones for the interpreter.
constexpr int64_t kVecN = int64_t{1} << 20, kVecSmall = int64_t{1} << 12;
constexpr int64_t kGrid = 1024, kGridSmall = 64;
constexpr int32_t kPixels = 256, kPixelsSmall = 32, kMaxIter = 256;
constexpr int64_t kStarts = int64_t{1} << 16, kStartsSmall = int64_t{1} << 9;

struct Saxpy {
  const char* name = "saxpy";
  static constexpr float a = 0.75f;
  struct Data {
    Buf<float> x, y;
  };
  auto stage() const { return stage_saxpy(); }
  int64_t n(bool small) const { return small ? kVecSmall : kVecN; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<12" : "n=1<<20"; }
  Data data(bool small) const { return {aligned_values<float>(static_cast<size_t>(n(small)), 1), aligned_values<float>(static_cast<size_t>(n(small)), 2)}; }
  void call(const kiln::Compiled<SaxpySig>& f, Data& d) const { f(a, d.x, d.y); }
  void hand(Data& d) const { hand_saxpy(a, d.x.data(), static_cast<int64_t>(d.x.size()), d.y.data()); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.y); }
};

struct Chain {
  const char* name = "chain";
  struct Data {
    Buf<float> x, y, z;
  };
  auto stage() const { return stage_chain(); }
  int64_t n(bool small) const { return small ? kVecSmall : kVecN; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<12" : "n=1<<20"; }
  Data data(bool small) const {
    const auto m = static_cast<size_t>(n(small));
    return {positive_values(m, 11), positive_values(m, 12), Buf<float>(m)};
  }
  void call(const kiln::Compiled<ChainSig>& f, Data& d) const { f(d.x, d.y, d.z); }
  void hand(Data& d) const { hand_chain(d.x.data(), d.y.data(), d.z.data(), static_cast<int64_t>(d.x.size())); }
  const char* alt_name = "hand_no_math_errno";
  const char* alt_about = "the hand-written loop built with -fno-math-errno";
  void hand_alt(Data& d) const {
    kiln_bench_hand_chain_no_math_errno(d.x.data(), d.y.data(), d.z.data(), static_cast<int64_t>(d.x.size()));
  }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.z); }
};

struct Dot {
  const char* name = "dot";
  struct Data {
    Buf<float> x, y;
    float result = 0;
  };
  auto stage() const { return stage_dot(); }
  int64_t n(bool small) const { return small ? kVecSmall : kVecN; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "n=1<<12" : "n=1<<20"; }
  Data data(bool small) const {
    return {aligned_values<float>(static_cast<size_t>(n(small)), 3), aligned_values<float>(static_cast<size_t>(n(small)), 4), 0};
  }
  void call(const kiln::Compiled<DotSig>& f, Data& d) const { d.result = f(d.x, d.y); }
  void hand(Data& d) const { d.result = hand_dot(d.x.data(), d.y.data(), static_cast<int64_t>(d.x.size())); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.result); }
};

struct Stencil {
  const char* name = "stencil5";
  struct Data {
    Buf<double> in, out;
    int64_t n;
  };
  auto stage() const { return stage_stencil(); }
  int64_t n(bool small) const { return small ? kGridSmall : kGrid; }
  double size(bool small) const { return static_cast<double>(n(small) * n(small)); }
  std::string describe(bool small) const { return small ? "64x64" : "1024x1024"; }
  Data data(bool small) const {
    const int64_t g = n(small);
    return {aligned_values<double>(static_cast<size_t>(g * g), 5), Buf<double>(static_cast<size_t>(g * g)), g};
  }
  void call(const kiln::Compiled<StencilSig>& f, Data& d) const { f(d.in, d.out, d.n); }
  void hand(Data& d) const { hand_stencil(d.in.data(), d.out.data(), d.n); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.out); }
};

struct Matmul {
  const char* name = "matmul";
  struct Data {
    Buf<float> a, b, c;
  };
  auto stage() const { return stage_matmul(); }
  double size(bool) const { return static_cast<double>(kMat * kMat * kMat); }
  // The sizes are staged constants: the small input is the full one.
  std::string describe(bool) const { return "64^3"; }
  Data data(bool) const {
    const auto m = static_cast<size_t>(kMat * kMat);
    return {aligned_values<float>(m, 6), aligned_values<float>(m, 7), Buf<float>(m, -1.0f)};
  }
  void call(const kiln::Compiled<MatmulSig>& f, Data& d) const { f(d.a, d.b, d.c); }
  void hand(Data& d) const { hand_matmul(d.a.data(), d.b.data(), d.c.data()); }
  const char* alt_name = "hand_restrict";
  const char* alt_about = "the hand-written loop with __restrict pointers";
  void hand_alt(Data& d) const { hand_matmul_restrict(d.a.data(), d.b.data(), d.c.data()); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.c); }
};

struct Mandel {
  const char* name = "mandel";
  struct Data {
    Buf<int32_t> out;
    int32_t w;
  };
  auto stage() const { return stage_mandel(); }
  int32_t w(bool small) const { return small ? kPixelsSmall : kPixels; }
  double size(bool small) const { return static_cast<double>(w(small)) * w(small); }
  std::string describe(bool small) const { return small ? "32x32" : "256x256"; }
  Data data(bool small) const { return {Buf<int32_t>(static_cast<size_t>(w(small) * w(small)), -1), w(small)}; }
  // The square [-2, 1] x [-1.5, 1.5] at every size.
  static double step(int32_t w) { return 3.0 / w; }
  void call(const kiln::Compiled<MandelSig>& f, Data& d) const { f(d.out, d.w, d.w, -2.0, -1.5, step(d.w), kMaxIter); }
  void hand(Data& d) const { hand_mandel(d.out.data(), d.w, d.w, -2.0, -1.5, step(d.w), kMaxIter); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.out); }
};

struct Collatz {
  const char* name = "collatz";
  static constexpr int64_t start = 1;
  struct Data {
    Buf<int32_t> steps;
  };
  auto stage() const { return stage_collatz(); }
  int64_t n(bool small) const { return small ? kStartsSmall : kStarts; }
  double size(bool small) const { return static_cast<double>(n(small)); }
  std::string describe(bool small) const { return small ? "1..1<<9" : "1..1<<16"; }
  Data data(bool small) const { return {Buf<int32_t>(static_cast<size_t>(n(small)), -1)}; }
  void call(const kiln::Compiled<CollatzSig>& f, Data& d) const { f(d.steps, start); }
  void hand(Data& d) const { hand_collatz(d.steps.data(), static_cast<int64_t>(d.steps.size()), start); }
  void outputs(const Data& d, std::vector<Bits>& v) const { append(v, d.steps); }
};

// --- each case checked, then bound to its data --------------------------------------

/// One kernel bound to its full input: each closure runs one variant on its
/// own copy of the data.
struct RunCase {
  std::string name, input;
  size_t nodes = 0;
  double n = 0;  // elements / points / pixels / starts
  std::function<void()> llvm, hand, cxx, llvm_no_alias;
  // A second hand-written variant (K::hand_alt), if the kernel has one.
  std::string alt_name, alt_about;
  std::function<void()> hand_alt;
};

/// A kernel's data and calls, for make_case. K provides:
///   Data data(bool small)                       fresh inputs (and zeroed outputs)
///   void call(const Compiled& f, Data& d)       runs kiln's code, keeps its result in d
///   void hand(Data& d)                          runs the hand-written code likewise
///   void hand_alt(Data& d), alt_name, alt_about optional: a second hand-written variant
///   void outputs(const Data& d, vector<Bits>&)  the result, then every buffer
template <class K>
RunCase make_case(const K& k) {
  auto staged = k.stage();
  auto llvm = kiln::compile(staged, kLlvm);
  auto llvm_na = kiln::compile(staged, kLlvmNoAlias);
  auto cxx = kiln::compile(staged, kCxx);
  auto interp = kiln::compile(staged, kInterp);
  auto out = [&](const typename K::Data& d) {
    std::vector<Bits> v;
    k.outputs(d, v);
    return v;
  };
  try {
    {
      typename K::Data a = k.data(false), b = k.data(false), c = k.data(false), na = k.data(false);
      k.call(llvm, a);
      k.call(cxx, b);
      k.hand(c);
      k.call(llvm_na, na);
      check_same(k.name, k.describe(false), "kiln llvm", out(a), "hand-written", out(c));
      check_same(k.name, k.describe(false), "kiln llvm assume_no_alias", out(na), "hand-written", out(c));
      check_same(k.name, k.describe(false), "kiln cxx", out(b), "hand-written", out(c));
      if constexpr (requires { k.hand_alt(a); }) {
        typename K::Data e = k.data(false);
        k.hand_alt(e);
        check_same(k.name, k.describe(false), k.alt_name, out(e), "hand-written", out(c));
      }
    }
    {
      typename K::Data a = k.data(true), b = k.data(true), c = k.data(true), d = k.data(true);
      k.call(interp, a);
      k.call(llvm, b);
      k.call(cxx, c);
      k.hand(d);
      check_same(k.name, k.describe(true), "the interpreter", out(a), "hand-written", out(d));
      check_same(k.name, k.describe(true), "kiln llvm", out(b), "hand-written", out(d));
      check_same(k.name, k.describe(true), "kiln cxx", out(c), "hand-written", out(d));
      if constexpr (requires { k.hand_alt(a); }) {
        typename K::Data e = k.data(true);
        k.hand_alt(e);
        check_same(k.name, k.describe(true), k.alt_name, out(e), "hand-written", out(d));
      }
    }
  } catch (const std::exception& e) {
    die(std::string(k.name) + ": running failed: " + e.what());
  }
  auto big_llvm = std::make_shared<typename K::Data>(k.data(false));
  auto big_hand = std::make_shared<typename K::Data>(k.data(false));
  auto big_cxx = std::make_shared<typename K::Data>(k.data(false));
  auto big_na = std::make_shared<typename K::Data>(k.data(false));
  RunCase c;
  c.name = k.name;
  c.input = k.describe(false);
  c.nodes = count_nodes(staged.module());
  c.n = k.size(false);
  c.llvm = [k, llvm, big_llvm] { k.call(llvm, *big_llvm); };
  c.hand = [k, big_hand] { k.hand(*big_hand); };
  c.cxx = [k, cxx, big_cxx] { k.call(cxx, *big_cxx); };
  c.llvm_no_alias = [k, llvm_na, big_na] { k.call(llvm_na, *big_na); };
  if constexpr (requires(typename K::Data& d) { k.hand_alt(d); }) {
    auto big_alt = std::make_shared<typename K::Data>(k.data(false));
    c.alt_name = k.alt_name;
    c.alt_about = k.alt_about;
    c.hand_alt = [k, big_alt] { k.hand_alt(*big_alt); };
  }
  return c;
}

void BM_run(benchmark::State& state, const RunCase* c, const std::function<void()>* f) {
  for (auto _ : state) (*f)();
  state.counters["nodes"] = static_cast<double>(c->nodes);
  state.counters["n"] = c->n;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c->n));
}

}  // namespace
