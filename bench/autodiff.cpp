// Reverse mode's cost: the run time of kiln::grad(f) over the run time of f,
// both compiled by Backend::llvm, for the kernels of the LLVM benchmark
// written as scalar losses (double precision):
//
//   dot        sum x[i] y[i], 65536 elements              grad: x and y
//   chain      sum sqrt(fma(x, x, 1)) x, 65536            grad: x
//   stencil    sum (x[i-1] - 2 x[i] + x[i+1])^2, 65536    grad: x
//   matmul     sum (A B)_ij^2, 64x64x64                   grad: A and B
//              (also against two hand-written C++ gradients: the loop
//              nest's reverse, and dA = G B^T, dB = A^T G as two matmuls)
//   tmatmul    the same loss with kiln::matmul on tensors: reverse mode at
//              tensor level (the adjoint of a matmul is two matmuls)
//   recurrence s <- sin(s) a + 0.1 x, 1000 steps (for_)   grad: x and a
//   mandel     z <- z^2 + c while |z|^2 < 4, at most 64,  grad: the scale of c
//              on a 64x64 grid, loss sum |z|^2 (while_)
//   while      a rotation with a weak nonlinearity, 100000 steps of a while_,
//              taped in full and with ReverseOptions::checkpoint_every = 256
//   par_chain  y = sqrt(fma(x, x, 1)) x s in a parallel_for_, then sum y, 2^20:
//              the parallel reverse and the sequential one (.parallel = false)
//
// Before timing, each gradient is checked bit for bit against the
// interpreter's (the oracle). After the Google Benchmark runs, a summary
// measured with std::chrono (medians of alternating samples) prints one
// row per kernel with both times and their ratio (`grep ^RESULT`), and the
// tape each loop iteration of the reverse-mode code writes (8 bytes per
// tape.push in the loop's body, counted in the optimised IR).
#include "bench_support.h"

#include <kiln/autodiff.h>
#include <kiln/kiln.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <thread>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kiln::bench;
using kiln::Arr;
using kiln::Rep;

constexpr int kReps = 9;
constexpr double kTarget = 0.02;  // seconds per timed sample
const kiln::Options kLlvm{.backend = kiln::Backend::llvm};
const kiln::Options kInterp{.backend = kiln::Backend::interp};

struct Case {
  std::string name, what;
  std::function<void()> primal, grad;
  std::string ir;  // the optimised gradient, for the tape count
  // Hand-written C++ gradients of the same function (name, call), timed in
  // the same alternation as a baseline for kiln's.
  std::vector<std::pair<std::string, std::function<void()>>> hand = {};
};

// The tape memory one gradient call leaves on a fresh thread (the tape's
// capacity: it doubles from 8 KiB as it fills).
size_t tape_after(const std::function<void()>& grad) {
  size_t bytes = 0;
  std::thread t([&] {
    grad();
    bytes = kiln::tape_bytes();
  });
  t.join();
  return bytes;
}

// tape.push nodes directly in each loop body (not in nested loops): words
// written per iteration. "loop: n words" per loop, outermost first.
std::string tape_per_iteration(const kiln::ir::Module& m) {
  using namespace kiln::ir;
  std::string out;
  const Function& f = m.functions.at(0);
  std::function<size_t(RegionId)> count = [&](RegionId r) {
    size_t n = 0;
    for (ValueId v : f.region(r).body) {
      const Node& x = f.node(v);
      if (x.op == Op::TapePush) ++n;
      if (x.op == Op::If)
        for (RegionId c : x.regions) n = std::max(n, count(c));
    }
    return n;
  };
  walk(f, [&](ValueId v) {
    const Node& x = f.node(v);
    if (x.op != Op::For && x.op != Op::While && x.op != Op::ParallelFor) return;
    size_t n = 0;
    for (RegionId r : x.regions) n += count(r);
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + std::string(info(x.op).spelling) + " " + std::to_string(n * 8) + " B/iter";
  });
  return out.empty() ? "none" : out;
}

template <class T>
void same_buffers(const std::string& name, const std::vector<T>& a, const std::vector<T>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint64_t>(static_cast<double>(a[i])) != std::bit_cast<uint64_t>(static_cast<double>(b[i])))
      die(name + ": the LLVM gradient differs from the interpreter's at element " + std::to_string(i));
}

// A loss over one or two buffers: grad writes one gradient buffer per input.
template <class Fn>
Case buffer_case(const std::string& name, const std::string& what, size_t n, Fn body, bool two) {
  Case c{name, what, {}, {}, {}};
  auto x = std::make_shared<std::vector<double>>(values<double>(n, 11));
  auto y = std::make_shared<std::vector<double>>(values<double>(n, 12));
  auto gx = std::make_shared<std::vector<double>>(n), gy = std::make_shared<std::vector<double>>(n);
  if (two) {
    auto f = kiln::stage(name, [&](Arr<const double> a, Arr<const double> b) { return body(a, b); });
    auto g = kiln::grad(f);
    auto fp = kiln::compile(f, kLlvm);
    auto gp = kiln::compile(g, kLlvm);
    auto gi = kiln::compile(g, kInterp);
    std::vector<double> ix(n), iy(n);
    gi(*x, *y, ix, iy);
    gp(*x, *y, *gx, *gy);
    same_buffers(name, ix, *gx);
    same_buffers(name, iy, *gy);
    c.primal = [=] { benchmark::DoNotOptimize(fp(*x, *y)); };
    c.grad = [=] { gp(*x, *y, *gx, *gy); };
    c.ir = tape_per_iteration(g.module());
  } else {
    auto f = kiln::stage(name, [&](Arr<const double> a) { return body(a, a); });
    auto g = kiln::grad(f);
    auto fp = kiln::compile(f, kLlvm);
    auto gp = kiln::compile(g, kLlvm);
    auto gi = kiln::compile(g, kInterp);
    std::vector<double> ix(n);
    gi(*x, ix);
    gp(*x, *gx);
    same_buffers(name, ix, *gx);
    c.primal = [=] { benchmark::DoNotOptimize(fp(*x)); };
    c.grad = [=] { gp(*x, *gx); };
    c.ir = tape_per_iteration(g.module());
  }
  return c;
}

constexpr size_t kN = 1 << 16;
constexpr int64_t kM = 64;

Case dot_case() {
  return buffer_case("dot", "sum x[i] y[i], 65536", kN, [](auto x, auto y) {
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += x[i] * y[i]; });
    return s;
  }, true);
}

Case chain_case() {
  return buffer_case("chain", "sum sqrt(fma(x, x, 1)) x, 65536", kN, [](auto x, auto) {
    Rep<double> s = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { s += kiln::sqrt(kiln::fma(x[i], x[i], 1.0)) * x[i]; });
    return s;
  }, false);
}

Case stencil_case() {
  return buffer_case("stencil", "sum (x[i-1] - 2 x[i] + x[i+1])^2, 65536", kN, [](auto x, auto) {
    Rep<double> s = 0.0;
    kiln::for_(1, x.size() - 1, [&](Rep<int64_t> i) {
      Rep<double> d = x[i - 1] - 2.0 * x[i] + x[i + 1];
      s += d * d;
    });
    return s;
  }, false);
}

// The matmul's gradient written by hand, two ways: the reverse of the
// scalar loop nest as reverse mode derives it (the baseline for kiln's code),
// and as a person writes it, G = 2AB, dA = G B^T, dB = A^T G (two matmuls in
// cache-friendly loop orders: what a tensor-level rule gives, issue 8).
__attribute__((noipa)) void matmul_grad_loops(const double* a, const double* b, double* ga, double* gb, double* tape) {
  const int64_t m = kM;
  for (int64_t i = 0; i < m * m; ++i) ga[i] = gb[i] = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < m; ++k) acc += a[i * m + k] * b[k * m + j];
      tape[i * m + j] = acc;
    }
  for (int64_t i = m - 1; i >= 0; --i)
    for (int64_t j = m - 1; j >= 0; --j) {
      const double g = tape[i * m + j] + tape[i * m + j];
      for (int64_t k = m - 1; k >= 0; --k) {
        ga[i * m + k] += g * b[k * m + j];
        gb[k * m + j] += g * a[i * m + k];
      }
    }
}

__attribute__((noipa)) void matmul_grad_matmuls(const double* a, const double* b, double* ga, double* gb, double* g) {
  const int64_t m = kM;
  for (int64_t i = 0; i < m * m; ++i) g[i] = ga[i] = gb[i] = 0;
  for (int64_t i = 0; i < m; ++i)  // G = 2 A B, i-k-j
    for (int64_t k = 0; k < m; ++k)
      for (int64_t j = 0; j < m; ++j) g[i * m + j] += a[i * m + k] * b[k * m + j];
  for (int64_t i = 0; i < m * m; ++i) g[i] += g[i];
  for (int64_t i = 0; i < m; ++i)  // dA = G B^T: rows of G against rows of B
    for (int64_t k = 0; k < m; ++k) {
      double s = 0;
      for (int64_t j = 0; j < m; ++j) s += g[i * m + j] * b[k * m + j];
      ga[i * m + k] = s;
    }
  for (int64_t k = 0; k < m; ++k)  // dB = A^T G, k-i-j
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) gb[k * m + j] += a[i * m + k] * g[i * m + j];
}

// sum (A B)_ij^2, staged.
constexpr auto matmul_loss = [](auto a, auto b) {
  Rep<double> s = 0.0;
  kiln::for_(0, kM, [&](Rep<int64_t> i) {
    kiln::for_(0, kM, [&](Rep<int64_t> j) {
      Rep<double> acc = 0.0;
      kiln::for_(0, kM, [&](Rep<int64_t> k) { acc += a[i * kM + k] * b[k * kM + j]; });
      s += acc * acc;
    });
  });
  return s;
};

Case matmul_case() {
  Case c = buffer_case("matmul", "sum (A B)_ij^2, 64x64x64", static_cast<size_t>(kM * kM), matmul_loss, true);
  const size_t n = static_cast<size_t>(kM * kM);
  auto a = std::make_shared<std::vector<double>>(values<double>(n, 11));
  auto b = std::make_shared<std::vector<double>>(values<double>(n, 12));
  auto ga = std::make_shared<std::vector<double>>(n), gb = std::make_shared<std::vector<double>>(n);
  auto scratch = std::make_shared<std::vector<double>>(n);
  // The loop-nest reverse sums in kiln's order: the same bits as kiln's.
  auto kiln_grad = kiln::compile(
      kiln::grad(kiln::stage("matmul_check", [](Arr<const double> x, Arr<const double> y) { return matmul_loss(x, y); })),
      kLlvm);
  std::vector<double> ka(n), kb(n);
  kiln_grad(*a, *b, ka, kb);
  matmul_grad_loops(a->data(), b->data(), ga->data(), gb->data(), scratch->data());
  same_buffers("matmul (hand-written loops)", ka, *ga);
  same_buffers("matmul (hand-written loops)", kb, *gb);
  matmul_grad_matmuls(a->data(), b->data(), ga->data(), gb->data(), scratch->data());
  for (size_t i = 0; i < n; ++i)  // another summation order: close, not the same bits
    if (std::abs((*ga)[i] - ka[i]) > 1e-9 * (1 + std::abs(ka[i])) || std::abs((*gb)[i] - kb[i]) > 1e-9 * (1 + std::abs(kb[i])))
      die("matmul: the hand-written gradient as two matmuls differs from kiln's at element " + std::to_string(i));
  c.hand.emplace_back("hand loops", [=] { matmul_grad_loops(a->data(), b->data(), ga->data(), gb->data(), scratch->data()); });
  c.hand.emplace_back("hand matmuls", [=] { matmul_grad_matmuls(a->data(), b->data(), ga->data(), gb->data(), scratch->data()); });
  return c;
}

// The same loss written with tensors: kiln::grad differentiates the matmul
// as a matmul (dA = G B^T, dB = A^T G), as a person would.
Case tensor_matmul_case() {
  Case c = buffer_case("tmatmul", "sum (A B)_ij^2 with kiln::matmul, 64x64x64", static_cast<size_t>(kM * kM),
                       [](auto a, auto b) {
                         kiln::Tensor<double> p = kiln::matmul(a.tensor({kM, kM}), b.tensor({kM, kM}));
                         return (p * p).sum_all();
                       }, true);
  const size_t n = static_cast<size_t>(kM * kM);
  auto a = std::make_shared<std::vector<double>>(values<double>(n, 11));
  auto b = std::make_shared<std::vector<double>>(values<double>(n, 12));
  auto ga = std::make_shared<std::vector<double>>(n), gb = std::make_shared<std::vector<double>>(n);
  auto scratch = std::make_shared<std::vector<double>>(n);
  c.hand.emplace_back("hand matmuls", [=] { matmul_grad_matmuls(a->data(), b->data(), ga->data(), gb->data(), scratch->data()); });
  return c;
}

Case recurrence_case() {
  auto f = kiln::stage("recurrence", [](Rep<double> x, Rep<double> a) {
    Rep<double> s = x;
    kiln::for_(0, 1000, [&](Rep<int64_t>) { s = kiln::sin(s) * a + 0.1 * x; });
    return s;
  });
  auto g = kiln::grad(f);
  auto fp = kiln::compile(f, kLlvm);
  auto gp = kiln::compile(g, kLlvm);
  if (gp(0.3, 0.9) != kiln::compile(g, kInterp)(0.3, 0.9)) die("recurrence: the LLVM gradient differs from the interpreter's");
  Case c{"recurrence", "s <- sin(s) a + 0.1 x, 1000 steps", {}, {}, tape_per_iteration(g.module())};
  c.primal = [=] { benchmark::DoNotOptimize(fp(0.3, 0.9)); };
  c.grad = [=] { benchmark::DoNotOptimize(gp(0.3, 0.9)); };
  return c;
}

Case mandel_case() {
  auto f = kiln::stage("mandel", [](Rep<double> scale) {
    Rep<double> loss = 0.0;
    kiln::for_(0, kM, [&](Rep<int64_t> py) {
      kiln::for_(0, kM, [&](Rep<int64_t> px) {
        Rep<double> cr = (kiln::cast<double>(px) * (3.0 / kM) - 2.0) * scale;
        Rep<double> ci = (kiln::cast<double>(py) * (2.5 / kM) - 1.25) * scale;
        Rep<double> zr = 0.0, zi = 0.0;
        Rep<int64_t> k = 0;
        kiln::while_([&] { return zr * zr + zi * zi < 4.0 && k < 64; }, [&] {
          Rep<double> t = zr * zr - zi * zi + cr;
          zi = 2.0 * zr * zi + ci;
          zr = t;
          k += 1;
        });
        loss += zr * zr + zi * zi;
      });
    });
    return loss;
  });
  auto g = kiln::grad(f);
  auto fp = kiln::compile(f, kLlvm);
  auto gp = kiln::compile(g, kLlvm);
  if (gp(0.9) != kiln::compile(g, kInterp)(0.9)) die("mandel: the LLVM gradient differs from the interpreter's");
  Case c{"mandel", "z <- z^2 + c while |z|^2 < 4 (at most 64), 64x64 points", {}, {}, tape_per_iteration(g.module())};
  c.primal = [=] { benchmark::DoNotOptimize(fp(0.9)); };
  c.grad = [=] { benchmark::DoNotOptimize(gp(0.9)); };
  return c;
}

// A while_ of 100,000 steps, taped in full and checkpointed: a rotation
// with a weak nonlinearity, so that the adjoint neither vanishes (denormal
// arithmetic is a hundred times slower, and would be what is measured) nor
// blows up.
Case while_case(int64_t every) {
  auto f = kiln::stage("while_rotation", [](Rep<double> x) {
    Rep<double> a = x, b = 0.5;
    Rep<int64_t> i = 0;
    kiln::while_([&] { return i < 100000; }, [&] {
      Rep<double> t = a * 0.9950041652780258 - b * 0.09983341664682815 + 1e-6 * kiln::sin(a * b);
      b = a * 0.09983341664682815 + b * 0.9950041652780258;
      a = t;
      i += 1;
    });
    return a * b;
  });
  auto g = kiln::grad(f, {.checkpoint_every = every});
  auto fp = kiln::compile(f, kLlvm);
  auto gp = kiln::compile(g, kLlvm);
  if (gp(0.3) != kiln::compile(kiln::grad(f), kInterp)(0.3)) die("while: the LLVM gradient differs from the interpreter's");
  const std::string label = every ? "while_ck" + std::to_string(every) : std::string("while");
  Case c{label,
         every ? "the same, checkpoint_every = " + std::to_string(every)
               : "a rotation with a weak nonlinearity, 100000 steps",
         {}, {}, {}};
  c.primal = [=] { benchmark::DoNotOptimize(fp(0.3)); };
  c.grad = [=] { benchmark::DoNotOptimize(gp(0.3)); };
  c.ir = std::to_string(tape_after(c.grad) / 1024) + " KiB tape in all";
  return c;
}

// An elementwise chain in a parallel_for_ (y[i] = sqrt(fma(x, x, 1)) x s),
// then a sum: the gradient's parallel reverse, and the sequential one.
Case parallel_case(bool parallel) {
  auto f = kiln::stage("par_chain", [](Arr<const double> x, Rep<double> s, Arr<double> y) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = kiln::sqrt(kiln::fma(x[i], x[i], 1.0)) * x[i] * s; });
    Rep<double> t = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { t += y[i]; });
    return t;
  });
  const size_t n = 1 << 20;
  auto x = std::make_shared<std::vector<double>>(values<double>(n, 13));
  auto y = std::make_shared<std::vector<double>>(n);
  auto gx = std::make_shared<std::vector<double>>(n), gy = std::make_shared<std::vector<double>>(n);
  auto g = kiln::grad(f, {.parallel = parallel});
  auto fp = kiln::compile(f, kLlvm);
  auto gp = kiln::compile(g, kLlvm);
  std::vector<double> ix(n), iy(n), yi(n);
  const double gs = gp(*x, 0.7, *y, *gx, *gy);
  if (gs != kiln::compile(g, kInterp)(*x, 0.7, yi, ix, iy)) die("par_chain: the LLVM gradient differs from the interpreter's");
  same_buffers("par_chain", ix, *gx);
  Case c{parallel ? "par_chain" : "par_chain_seq",
         parallel ? "parallel_for_ y = sqrt(fma(x, x, 1)) x s, then sum y; 2^20"
                  : "the same, ReverseOptions{.parallel = false}",
         {}, {}, {}};
  c.primal = [=] { benchmark::DoNotOptimize(fp(*x, 0.7, *y)); };
  c.grad = [=] { benchmark::DoNotOptimize(gp(*x, 0.7, *y, *gx, *gy)); };
  c.ir = std::to_string(tape_after(c.grad) / 1024) + " KiB tape in all";
  return c;
}

void BM_call(benchmark::State& state, const std::function<void()>* fn) {
  for (auto _ : state) (*fn)();
}

void print_summary(const std::vector<Case>& cases) {
  std::printf("\nReverse mode on Backend::llvm: gradient / primal run time (median of %d alternating samples)\n\n", kReps);
  std::printf("| kernel | primal ms | grad ms | grad / primal | tape |\n|---|---|---|---|---|\n");
  std::vector<std::string> results;
  for (const Case& c : cases) {
    std::vector<std::function<void()>> fs = {c.primal, c.grad};
    for (const auto& h : c.hand) fs.push_back(h.second);
    const std::vector<double> t = median_each(kReps, fs, kTarget);
    const double p = t[0], g = t[1];
    std::printf("| %s (%s) | %.4f | %.4f | %.2f | %s |\n", c.name.c_str(), c.what.c_str(), p * 1e3, g * 1e3, g / p,
                c.ir.c_str());
    char buf[256];
    std::snprintf(buf, sizeof buf, "RESULT grad_%s primal_ms=%.4f grad_ms=%.4f ratio=%.3f", c.name.c_str(), p * 1e3,
                  g * 1e3, g / p);
    results.push_back(buf);
    for (size_t k = 0; k < c.hand.size(); ++k) {
      std::string label = c.hand[k].first;
      for (char& ch : label) ch = ch == ' ' ? '_' : ch;
      std::snprintf(buf, sizeof buf, "RESULT grad_%s_vs_%s %s_ms=%.4f kiln_grad_over_%s=%.3f %s_over_primal=%.3f",
                    c.name.c_str(), label.c_str(), label.c_str(), t[2 + k] * 1e3, label.c_str(), g / t[2 + k],
                    label.c_str(), t[2 + k] / p);
      results.push_back(buf);
    }
  }
  std::printf("\n");
  for (const auto& r : results) std::printf("%s\n", r.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  g_program_name = "kiln_bench_autodiff";
  bool summary = true;
  if (!start_llvm_benchmark(argc, argv, &summary)) return 0;
  use_fresh_cache_dir("kiln-bench-autodiff-");
  std::vector<Case> cases;
  try {
    cases.push_back(dot_case());
    cases.push_back(chain_case());
    cases.push_back(stencil_case());
    cases.push_back(matmul_case());
    cases.push_back(tensor_matmul_case());
    cases.push_back(recurrence_case());
    cases.push_back(mandel_case());
    cases.push_back(while_case(0));
    cases.push_back(while_case(256));
    cases.push_back(parallel_case(true));
    cases.push_back(parallel_case(false));
  } catch (const std::exception& e) {
    die(std::string("setting up failed: ") + e.what());
  }
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark(("grad/" + c.name + "/primal").c_str(), BM_call, &c.primal)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("grad/" + c.name + "/grad").c_str(), BM_call, &c.grad)->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (summary) print_summary(cases);
  remove_cache_dir();
  return 0;
}
