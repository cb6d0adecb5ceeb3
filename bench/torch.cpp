// kiln against libtorch (C++ API) on one training step of an MLP: forward,
// backward, plain SGD update (no momentum), float32, on two models:
//
//   large  784-128-10, ReLU, batch 64, softmax cross-entropy
//   small  2-64-64-3, tanh, batch 256, softmax cross-entropy (samples/mlp's model)
//
// kiln's step is one staged function (value_and_grad<0>(loss) called inside
// it, then the update as a parallel_for_ over the flat parameter buffer),
// compiled by Backend::llvm twice: default Options and {.fast_math = true}.
// libtorch's is the idiomatic loop: torch::nn::Sequential of Linear layers,
// torch::nn::functional::cross_entropy, loss.backward(), torch::optim::SGD.
// Both start from the same parameters (kiln's Glorot init, copied into the
// Linear layers transposed) and run on the same synthetic batch, with the
// same number of threads: kiln's parallel loops use kiln::runtime's pool
// ($KILN_THREADS, else hardware_concurrency()); libtorch gets that number
// through torch::set_num_threads and at::set_num_interop_threads, and so does
// the OpenBLAS its matmuls call (openblas_set_num_threads: Debian's OpenBLAS
// keeps its own pthread pool, which torch::set_num_threads does not size).
//
// First a cross-check: kCheckSteps SGD steps from the same parameters; every
// step's loss must agree within a relative kTolerance between libtorch and
// both kiln builds, or the binary exits with a failure before timing
// anything. Then the Google Benchmark runs (one per model and
// implementation, JSON for scripts/bench), then a summary timed with
// std::chrono: the median of kSamples single steps after kWarmup, in rounds
// where the implementations take turns. It prints, per model, one line
//
//   RATIO kiln/libtorch=<x> model=<name> kiln_ms=<median> libtorch_ms=<median> ...
//
// (kiln with default Options; the same line carries the fast_math figures),
// and a breakdown into forward alone and forward + backward, to say where the
// time goes. With more than one thread the summary is repeated on one
// thread for everybody (lines `RATIO_1THREAD ...`): libtorch's OpenMP
// threads spin while they wait, which on a machine whose cores other
// processes keep busy costs it a scheduler time slice per parallel region
// (OMP_WAIT_POLICY=passive, read when libgomp loads, changes that); on one
// thread nobody waits. Every line also gives the load average.
#include "bench_support.h"
#include "openblas_threads.h"

#include "backends/runtime/thread_pool.h"

#include <kiln/kiln.h>
#include <kiln/nn.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace kiln::bench;
using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;

constexpr int kCheckSteps = 50;     // SGD steps compared loss by loss
constexpr double kTolerance = 1e-3;  // relative, on each step's loss
constexpr int kWarmup = 20;          // untimed calls of each implementation in the summary
constexpr int kSamples = 200;        // calls timed one by one per implementation in the summary
constexpr int kRounds = 4;           // ... in rounds, the implementations taking turns

enum class Act { relu, tanh };

struct ModelSpec {
  std::string name;             // e.g. "784-128-10/b64"
  std::vector<int64_t> widths;  // input, hidden..., classes
  int64_t batch;
  Act act;
  float lr;
};

// One implementation of one model: a training step (returns the loss before
// the update), the forward pass alone and forward + backward without the
// update (both return the loss), and a reset to the initial parameters.
struct Impl {
  std::string name;
  std::function<float()> step, forward, forward_backward;
  std::function<void()> reset;
};

// The synthetic task, shared by every implementation: parameters, a batch
// in [-1.5, 1.5) and labels.
struct Problem {
  ModelSpec spec;
  kiln::nn::Layout layout;
  std::vector<kiln::nn::Layout::Param> w, b;
  std::vector<float> params, x;
  std::vector<int32_t> y;
};

Problem make_problem(const ModelSpec& spec, uint32_t seed) {
  Problem p{spec, {}, {}, {}, {}, {}, {}};
  for (size_t l = 0; l + 1 < spec.widths.size(); ++l) {
    p.w.push_back(p.layout.add({spec.widths[l], spec.widths[l + 1]}));
    p.b.push_back(p.layout.add({spec.widths[l + 1]}));
  }
  p.params.resize(static_cast<size_t>(p.layout.size()));
  std::mt19937 rng(seed);
  kiln::nn::init<float>(p.layout, p.params, rng);
  // Biases start at small non-zero values, so that their copy into libtorch is checked too.
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (const auto& b : p.b)
    for (int64_t i = 0; i < b.size(); ++i) p.params[static_cast<size_t>(b.offset + i)] = u(rng);
  p.x = values<float>(static_cast<size_t>(spec.batch * spec.widths.front()), seed + 1);
  const int64_t classes = spec.widths.back();
  uint64_t s = seed + 2;
  for (int64_t i = 0; i < spec.batch; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    p.y.push_back(static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(classes)));
  }
  return p;
}

// --- kiln ------------------------------------------------------------------------------

Impl make_kiln(const Problem& prob, const kiln::Options& opts, const std::string& label, double& compile_ms) {
  const ModelSpec& spec = prob.spec;
  const auto w = prob.w, b = prob.b;
  const int64_t batch = spec.batch, in = spec.widths.front();
  const Act act = spec.act;
  auto logits = [=](const Arr<const float>& p, Tensor<float> h) {
    for (size_t l = 0; l < w.size(); ++l) {
      h = kiln::nn::linear(h, w[l](p), b[l](p));
      if (l + 1 < w.size()) h = act == Act::relu ? kiln::relu(h) : kiln::tanh(h);
    }
    return h;
  };
  // Staged names are per model and build: "loss_784_128_10_b64", ...
  std::string tag;
  for (int64_t d : spec.widths) tag += "_" + std::to_string(d);
  tag += "_b" + std::to_string(batch);
  auto loss = kiln::stage("loss" + tag, [=](Arr<const float> p, Arr<const float> x, Arr<const int32_t> y) {
    return kiln::nn::softmax_cross_entropy(logits(p, x.tensor({batch, in})), y.tensor({batch}));
  });
  auto loss_and_grad = kiln::value_and_grad<0>(loss);
  auto train_step = kiln::stage("train_step" + tag, {"params", "grads", "x", "y", "lr"},
                                [=](Arr<float> p, Arr<float> g, Arr<const float> x, Arr<const int32_t> y, Rep<float> lr) {
                                  Rep<float> l = std::get<0>(loss_and_grad(p, x, y, g));
                                  kiln::parallel_for_(0, p.size(), [&](Rep<int64_t> i) { p[i] = p[i] - lr * g[i]; });
                                  return l;
                                });
  const auto t0 = std::chrono::steady_clock::now();
  auto step = kiln::compile(train_step, opts);
  auto fwd = kiln::compile(loss, opts);
  auto fwd_bwd = kiln::compile(loss_and_grad, opts);
  compile_ms = seconds_since(t0) * 1e3;

  struct State {
    std::vector<float> init, params, grads, x;
    std::vector<int32_t> y;
  };
  auto st = std::make_shared<State>(State{prob.params, prob.params, std::vector<float>(prob.params.size()), prob.x, prob.y});
  const float lr = spec.lr;
  Impl impl;
  impl.name = label;
  impl.step = [=] { return step(st->params, st->grads, st->x, st->y, lr); };
  impl.forward = [=] { return fwd(st->params, st->x, st->y); };
  impl.forward_backward = [=] { return std::get<0>(fwd_bwd(st->params, st->x, st->y, st->grads)); };
  impl.reset = [=] { st->params = st->init; };
  return impl;
}

// --- libtorch --------------------------------------------------------------------------

Impl make_torch(const Problem& prob) {
  const ModelSpec& spec = prob.spec;
  struct State {
    torch::nn::Sequential net;
    std::vector<torch::nn::Linear> layers;
    std::unique_ptr<torch::optim::SGD> opt;
    torch::Tensor x, y;
    std::vector<float> init;
    std::vector<kiln::nn::Layout::Param> w, b;
  };
  auto st = std::make_shared<State>();
  for (size_t l = 0; l + 1 < spec.widths.size(); ++l) {
    st->layers.emplace_back(torch::nn::LinearOptions(spec.widths[l], spec.widths[l + 1]));
    st->net->push_back(st->layers.back());
    if (l + 2 < spec.widths.size()) {
      if (spec.act == Act::relu) st->net->push_back(torch::nn::ReLU());
      else st->net->push_back(torch::nn::Tanh());
    }
  }
  st->init = prob.params;
  st->w = prob.w;
  st->b = prob.b;
  st->x = torch::from_blob(const_cast<float*>(prob.x.data()), {spec.batch, spec.widths.front()}, torch::kFloat32).clone();
  std::vector<int64_t> y64(prob.y.begin(), prob.y.end());
  st->y = torch::from_blob(y64.data(), {spec.batch}, torch::kInt64).clone();
  st->opt = std::make_unique<torch::optim::SGD>(st->net->parameters(), torch::optim::SGDOptions(spec.lr));

  Impl impl;
  impl.name = "libtorch";
  // kiln's W is [in, out] (x W + b); Linear's weight is [out, in] (x W^T + b).
  impl.reset = [st] {
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < st->layers.size(); ++l) {
      float* base = st->init.data();
      const auto& w = st->w[l];
      const auto& b = st->b[l];
      st->layers[l]->weight.copy_(torch::from_blob(base + w.offset, {w.shape[0], w.shape[1]}, torch::kFloat32).t());
      st->layers[l]->bias.copy_(torch::from_blob(base + b.offset, {b.shape[0]}, torch::kFloat32));
    }
  };
  impl.step = [st] {
    st->opt->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(st->net->forward(st->x), st->y);
    loss.backward();
    st->opt->step();
    return loss.item<float>();
  };
  impl.forward = [st] {
    torch::NoGradGuard no_grad;
    return torch::nn::functional::cross_entropy(st->net->forward(st->x), st->y).item<float>();
  };
  impl.forward_backward = [st] {
    st->opt->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(st->net->forward(st->x), st->y);
    loss.backward();
    return loss.item<float>();
  };
  impl.reset();
  return impl;
}

// --- the cross-check -------------------------------------------------------------------

// kCheckSteps steps of every implementation from the initial parameters;
// dies unless each kiln loss is within kTolerance of libtorch's. Returns the
// largest relative difference seen.
double cross_check(const ModelSpec& spec, std::vector<Impl>& impls) {
  const Impl& ref = impls.back();  // libtorch
  std::vector<std::vector<float>> losses(impls.size());
  for (size_t k = 0; k < impls.size(); ++k) {
    impls[k].reset();
    for (int s = 0; s < kCheckSteps; ++s) losses[k].push_back(impls[k].step());
    impls[k].reset();
  }
  double worst = 0;
  for (size_t k = 0; k + 1 < impls.size(); ++k)
    for (int s = 0; s < kCheckSteps; ++s) {
      const double a = losses[k][static_cast<size_t>(s)], t = losses.back()[static_cast<size_t>(s)];
      const double rel = std::abs(a - t) / std::max(std::abs(t), 1e-30);
      if (!(rel <= kTolerance)) {  // NaN fails too
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      "CROSS-CHECK FAILED on %s: step %d of %d, loss %.9g from %s but %.9g from %s (relative difference %.3g > %g)",
                      spec.name.c_str(), s + 1, kCheckSteps, a, impls[k].name.c_str(), t, ref.name.c_str(), rel, kTolerance);
        die(buf);
      }
      worst = std::max(worst, rel);
    }
  std::printf("cross-check %s: %d SGD steps (lr %g), loss %.6f -> %.6f (libtorch), every kiln loss within %.2g relative "
              "(largest %.2g): OK\n",
              spec.name.c_str(), kCheckSteps, static_cast<double>(spec.lr), static_cast<double>(losses.back().front()),
              static_cast<double>(losses.back().back()), kTolerance, worst);
  return worst;
}

// --- threads and load ------------------------------------------------------------------

using kiln_bench::set_openblas_threads;  // bench/openblas_threads.h

// The threads of kiln's parallel loops, libtorch's intra-op pool and
// OpenBLAS's pool; returns OpenBLAS's count (0: none loaded). libtorch's
// inter-op pool can be sized only once, before it is used (main does).
int set_threads(int n) {
  kiln::runtime::set_thread_count(n);
  torch::set_num_threads(n);
  return set_openblas_threads(n);
}

// The 1-minute load average: fork-join code suffers on a machine whose
// other processes keep its cores busy, so the figures say under what load
// they were taken.
double load_average() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

// --- the summary -----------------------------------------------------------------------

// Median ms of single calls of each function: kRounds rounds; in each, every
// function in turn runs kWarmup / kRounds calls untimed, then kSamples /
// kRounds calls each timed alone. Consecutive calls of one function keep its
// caches and threads warm, as in training; the rounds spread a change of load
// on a shared machine over all of them.
std::vector<double> median_ms(const std::vector<std::function<float()>>& fs) {
  std::vector<std::vector<double>> t(fs.size());
  for (int r = 0; r < kRounds; ++r)
    for (size_t k = 0; k < fs.size(); ++k) {
      for (int i = 0; i < kWarmup / kRounds; ++i) benchmark::DoNotOptimize(fs[k]());
      for (int i = 0; i < kSamples / kRounds; ++i) {
        const auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(fs[k]());
        t[k].push_back(seconds_since(start) * 1e3);
      }
    }
  std::vector<double> out;
  for (auto& v : t) out.push_back(median(std::move(v)));
  return out;
}

struct Model {
  ModelSpec spec;
  std::vector<Impl> impls;  // kiln default, kiln fast_math, libtorch
};

// Prints the table for the threads now set and returns one line per model,
// "<tag> kiln/libtorch=...".
std::vector<std::string> summarise(const std::vector<Model>& models, int threads, const char* tag) {
  std::printf("\nOne training step (forward, backward, SGD), median of %d calls after %d warm-up calls, in %d rounds "
              "taking turns; %d threads for kiln and libtorch; load average %.2f\n\n",
              kSamples, kWarmup, kRounds, threads, load_average());
  std::printf("| model | part | kiln ms | kiln fast_math ms | libtorch ms | kiln / libtorch | fast_math / libtorch |\n"
              "|---|---|---|---|---|---|---|\n");
  std::vector<std::string> ratio_lines;
  for (const Model& m : models) {
    for (const Impl& i : m.impls) i.reset();
    struct Part {
      const char* name;
      std::function<float()> Impl::*fn;
    };
    double step[3] = {};
    for (Part part : {Part{"step", &Impl::step}, Part{"forward", &Impl::forward},
                      Part{"forward+backward", &Impl::forward_backward}}) {
      std::vector<std::function<float()>> fs;
      for (const Impl& i : m.impls) fs.push_back(i.*(part.fn));
      const std::vector<double> t = median_ms(fs);
      std::printf("| %s | %s | %.4f | %.4f | %.4f | %.2f | %.2f |\n", m.spec.name.c_str(), part.name, t[0], t[1], t[2],
                  t[0] / t[2], t[1] / t[2]);
      if (part.fn == &Impl::step) std::copy(t.begin(), t.end(), step);
    }
    for (const Impl& i : m.impls) i.reset();
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s kiln/libtorch=%.3f model=%s kiln_ms=%.4f libtorch_ms=%.4f "
                  "fast_math_ratio=%.3f kiln_fast_math_ms=%.4f threads=%d load=%.2f",
                  tag, step[0] / step[2], m.spec.name.c_str(), step[0], step[2], step[1] / step[2], step[1], threads,
                  load_average());
    ratio_lines.push_back(buf);
  }
  return ratio_lines;
}

}  // namespace

int main(int argc, char** argv) {
  g_program_name = "kiln_bench_torch";
  // Line-buffered, so that a failure on stderr comes after the lines before it in a log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (!kiln::available(kiln::Backend::llvm)) {
    std::printf("Backend::llvm not built\n");
    return 0;
  }
  // The same threads for both: kiln's pool size, given to libtorch before it
  // runs anything (the inter-op pool can be sized only once, before use).
  const int threads = kiln::runtime::thread_count();
  at::set_num_interop_threads(threads);
  const int blas_threads = set_threads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  use_fresh_cache_dir("kiln-bench-torch-");
  std::printf("threads: kiln %d (kiln::runtime::thread_count(): $KILN_THREADS, else hardware_concurrency()), "
              "libtorch intra-op %d, inter-op %d, OpenBLAS %s; OMP_WAIT_POLICY=%s; load average %.2f\n",
              threads, torch::get_num_threads(), at::get_num_interop_threads(),
              blas_threads ? std::to_string(blas_threads).c_str() : "not loaded",
              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)", load_average());

  const std::vector<ModelSpec> specs = {
      {"784-128-10/relu/b64", {784, 128, 10}, 64, Act::relu, 0.05f},
      {"2-64-64-3/tanh/b256", {2, 64, 64, 3}, 256, Act::tanh, 0.1f},
  };
  std::vector<Model> models;
  try {
    for (size_t k = 0; k < specs.size(); ++k) {
      Problem prob = make_problem(specs[k], 17 + static_cast<uint32_t>(k));
      Model m{specs[k], {}};
      double ms_default = 0, ms_fast = 0;
      m.impls.push_back(make_kiln(prob, {.backend = kiln::Backend::llvm}, "kiln", ms_default));
      m.impls.push_back(make_kiln(prob, {.backend = kiln::Backend::llvm, .fast_math = true}, "kiln fast_math", ms_fast));
      m.impls.push_back(make_torch(prob));
      std::printf("%s: %lld parameters; kiln compiled the step, forward and forward+backward in %.0f ms (default) and "
                  "%.0f ms (fast_math)\n",
                  specs[k].name.c_str(), static_cast<long long>(prob.layout.size()), ms_default, ms_fast);
      cross_check(specs[k], m.impls);
      models.push_back(std::move(m));
    }
  } catch (const std::exception& e) {
    die(std::string("setting up failed: ") + e.what());
  }

  for (const Model& m : models)
    for (const Impl& i : m.impls) {
      std::string label = i.name;
      for (char& c : label) c = c == ' ' ? '_' : c;
      const Impl* impl = &i;
      benchmark::RegisterBenchmark(("step/" + m.spec.name + "/" + label).c_str(),
                                   [impl](benchmark::State& state) {
                                     impl->reset();
                                     for (auto _ : state) benchmark::DoNotOptimize(impl->step());
                                   })
          ->Unit(benchmark::kMillisecond);
    }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::vector<std::string> lines = summarise(models, threads, "RATIO");
  // Fork-join code with spinning waiters (libgomp's default; OpenBLAS's
  // pthreads) collapses when other processes keep the cores busy; on one
  // thread nobody waits, so this second table holds on a loaded machine too.
  if (threads > 1) {
    set_threads(1);
    for (const std::string& l : summarise(models, 1, "RATIO_1THREAD")) lines.push_back(l);
    set_threads(threads);
  }
  std::printf("\n");
  for (const std::string& l : lines) std::printf("%s\n", l.c_str());
  remove_cache_dir();
  return 0;
}
