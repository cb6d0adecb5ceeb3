// Derivatives staged on several threads at once: kiln::grad and kiln::jvp
// of one shared function and of a function per thread, compiled and called
// on each thread (reverse mode on Backend::llvm keeps a tape per thread).
// Each thread's derivatives equal, bit for bit, those staged and run on the
// test thread alone.
#include "support.h"
#include "threads.h"

#include <cmath>
#include <span>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using kiln::test::on_threads;
using kiln::test::test_threads;

namespace {

const kiln::Options interp{.backend = kiln::Backend::interp};

// sum_i w[i] * sin(x * i) + p * x^2, through a loop whose carried value
// reverse mode tapes, with the parameter p fixed at staging time.
auto loss(double p) {
  return kiln::stage("loss", {"w", "x"}, [p](Arr<const double> w, Rep<double> x) {
    Rep<double> acc = p * x * x;
    kiln::for_(0, w.size(), [&](Rep<int64_t> i) { acc += w[i] * kiln::sin(x * kiln::cast<double>(i)); });
    return acc;
  });
}

// The gradient (w.r.t. w and x) and the directional derivative along
// (dw, dx) of loss(p) at thread t's point, with `opts`.
struct Derivatives {
  std::vector<double> gw;
  double gx = 0, jx = 0;
  bool operator==(const Derivatives&) const = default;
};

Derivatives derivatives(const decltype(loss(0))& f, const kiln::Options& opts, int t) {
  std::vector<double> w(40), dw(w.size(), 0.5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1 * static_cast<double>(i) - 0.05 * t;
  const double x = 0.3 + 0.1 * t;
  Derivatives d;
  d.gw.resize(w.size());
  d.gx = kiln::compile(kiln::grad(f), opts)(std::span<const double>(w), x, std::span<double>(d.gw));
  d.jx = std::get<1>(kiln::compile(kiln::jvp(f), opts)(std::span<const double>(w), x, std::span<const double>(dw), 1.0));
  return d;
}

// The backends a derivative runs on here.
std::vector<kiln::Options> backends() {
  std::vector<kiln::Options> out = {interp};
  if (kiln::available(kiln::Backend::llvm)) out.push_back({.backend = kiln::Backend::llvm});
  return out;
}

}  // namespace

TEST_CASE("grad and jvp of one function, staged from eight threads at once, are those staged alone",
          "[concurrency][autodiff]") {
  const auto f = loss(2.0);
  for (const kiln::Options& opts : backends()) {
    CAPTURE(static_cast<int>(opts.backend));
    std::vector<Derivatives> want, got(test_threads);
    for (int t = 0; t < test_threads; ++t) want.push_back(derivatives(f, interp, t));
    on_threads(test_threads, [&](int t) { got[t] = derivatives(f, opts, t); });
    CHECK(got == want);
  }
  // And they are the derivatives: d/dx of p x^2 + sum w_i sin(x i).
  const Derivatives d = derivatives(f, interp, 0);
  double gx = 2.0 * 2.0 * 0.3;
  for (size_t i = 0; i < d.gw.size(); ++i) gx += (0.1 * static_cast<double>(i)) * i * std::cos(0.3 * i);
  CHECK(d.gx == Approx(gx).epsilon(1e-12));
  CHECK(d.gw[3] == Approx(std::sin(0.9)).epsilon(1e-12));
}

TEST_CASE("grad and jvp of a function per thread, staged from eight threads at once, are those staged alone",
          "[concurrency][autodiff]") {
  for (const kiln::Options& opts : backends()) {
    CAPTURE(static_cast<int>(opts.backend));
    std::vector<Derivatives> want, got(test_threads);
    for (int t = 0; t < test_threads; ++t) want.push_back(derivatives(loss(t + 0.5), interp, t));
    on_threads(test_threads, [&](int t) { got[t] = derivatives(loss(t + 0.5), opts, t); });
    CHECK(got == want);
  }
}
