// Helpers shared by the tests: running a staged function on the interpreter
// and normalising IR text for check lines.
#pragma once

#include <kiln/kiln.h>
#include <kiln/nn.h>
#include <kiln/ir/printer.h>

#include "backends/kernel.h"
#include "backends/interp/interpreter.h"
#include "codegen/ir/scalar_ops.h"
#include "cuda_tools.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <string>
#include <vector>

namespace kiln::test {

/// Options that show IR as staging produced it (promotion only, no
/// optimisation): what tests of the front end look at.
inline const Options unoptimised{.optimize = false};

/// The message of the kiln exception E that `fn` throws ("" and a failed
/// check when it throws nothing).
template <class E, class F>
std::string error_message(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  FAIL_CHECK("expected an exception, none was thrown");
  return "";
}

/// A kernel that runs the interpreter (the oracle) and checks every other
/// CPU backend built into kiln (cxx, llvm) against it on the same call: same
/// results and same buffer contents, bit for bit (any NaN equals any NaN),
/// and the same trap for traps compiled code implements (division by zero,
/// zero loop step). Callers see the interpreter's behaviour.
/// KILN_TEST_BACKENDS=interp turns the cross-check off (for quick local runs
/// only).
class DifferentialKernel final : public detail::Kernel {
 public:
  explicit DifferentialKernel(ir::Module m) : m_(std::move(m)), interp_(interp::make_kernel(m_)) { check_cuda_source(); }

  void call(const detail::Slot* args, size_t nargs, detail::Slot* results, size_t nresults) const override {
    const ir::Function& f = m_.functions.at(0);
    // The buffers as they were before the call: every compiled run gets its
    // own copy of them.
    std::vector<std::vector<unsigned char>> copies;
    for (size_t i = 0; i < nargs; ++i) {
      ir::Type t = f.type(f.params()[i]);
      if (t.kind != ir::TypeKind::buf) continue;
      const auto* p = static_cast<const unsigned char*>(args[i].p);
      copies.emplace_back(p, p + args[i].size * ir::byte_width(t.elem));
    }
    std::vector<detail::Slot> compiled(nresults + 1);
    try {
      interp_->call(args, nargs, results, nresults);
    } catch (const RuntimeError& e) {
      std::string what = e.what();
      if (what.find("division by zero") != std::string::npos || what.find("remainder by zero") != std::string::npos ||
          what.find("step is zero") != std::string::npos) {
        std::string head = what.substr(0, what.find(" in @"));
        for (const auto& [name, kernel] : others()) {
          std::vector<std::vector<unsigned char>> mine = copies;
          std::vector<detail::Slot> fresh = fresh_args(args, nargs, mine);
          std::string got = error_message<RuntimeError>([&] { kernel->call(fresh.data(), nargs, compiled.data(), nresults); });
          INFO(name << " backend on @" << f.name << " must trap like the interpreter: " << what);
          CHECK_THAT(got, Catch::Matchers::StartsWith(head));
        }
      }
      throw;
    }
    for (const auto& [name, kernel] : others()) {
      std::vector<std::vector<unsigned char>> mine = copies;
      std::vector<detail::Slot> cargs = fresh_args(args, nargs, mine);
      kernel->call(cargs.data(), nargs, compiled.data(), nresults);
      for (size_t k = 0; k < nresults; ++k) {
        INFO(name << " backend, @" << f.name << " result " << k << "\n" << ir::print(m_));
        CHECK(same(f.result_types[k].elem, results[k], compiled[k]));
      }
      size_t c = 0;
      for (size_t i = 0; i < nargs; ++i) {
        ir::Type t = f.type(f.params()[i]);
        if (t.kind != ir::TypeKind::buf) continue;
        const unsigned char* after = mine[c++].data();
        for (int64_t e = 0; e < args[i].size; ++e) {
          detail::Slot a = ir::load_element(t.elem, args[i].p, e), b = ir::load_element(t.elem, after, e);
          if (same(t.elem, a, b)) continue;
          INFO(name << " backend, @" << f.name << " buffer parameter " << i << " element " << e << "\n" << ir::print(m_));
          CHECK(same(t.elem, a, b));
          break;
        }
      }
    }
  }

 private:
  static bool enabled() {
    const char* only = std::getenv("KILN_TEST_BACKENDS");
    return !only || std::string(only) != "interp";
  }
  // Every program the tests run must also be valid CUDA: the emitter's
  // source compiles with NVRTC and ptxas accepts the PTX (tests/cuda_tools.h;
  // under sanitizers only the emitter runs). Without the toolkit each test
  // process says once that it did not check.
  void check_cuda_source() const {
    static const bool tools = [] {
      std::string why;
      if (cuda_tools(&why)) return true;
      std::printf("kiln tests: the CUDA source of these programs is not checked: %s\n", why.c_str());
      return false;
    }();
    if (!tools || !enabled()) return;
    const CudaCheck c = check_cuda(m_, !sanitized);
    INFO("the CUDA emitter on @" << m_.functions.at(0).name << "\n" << ir::print(m_) << c.failure);
    CHECK(c.failure.empty());
  }

  static bool same(ir::Scalar s, const detail::Slot& a, const detail::Slot& b) {
    switch (s) {
      case ir::Scalar::f32: return std::isnan(a.f32) ? std::isnan(b.f32) : std::memcmp(&a.f32, &b.f32, 4) == 0;
      case ir::Scalar::f64: return std::isnan(a.f64) ? std::isnan(b.f64) : std::memcmp(&a.f64, &b.f64, 8) == 0;
      case ir::Scalar::i1: return (a.i != 0) == (b.i != 0);
      case ir::Scalar::i32:
      case ir::Scalar::i64: return a.i == b.i;
    }
    return false;
  }
  // Argument slots whose buffers point into `buffers` (one per buffer parameter, in order).
  std::vector<detail::Slot> fresh_args(const detail::Slot* args, size_t nargs,
                                       std::vector<std::vector<unsigned char>>& buffers) const {
    std::vector<detail::Slot> out(args, args + nargs);
    size_t c = 0;
    for (size_t i = 0; i < nargs; ++i)
      if (m_.functions.at(0).type(m_.functions.at(0).params()[i]).kind == ir::TypeKind::buf) out[i].p = buffers[c++].data();
    return out;
  }

  // The other CPU backends built into kiln, compiled on first use.
  const std::vector<std::pair<std::string, std::shared_ptr<detail::Kernel>>>& others() const {
    if (!enabled()) return others_;
    if (others_.empty())
      for (auto [name, b] : {std::pair{"cxx", Backend::cxx}, std::pair{"llvm", Backend::llvm}})
        if (auto make = detail::kernel_factory(b)) others_.emplace_back(name, make(m_, Options{}));
    return others_;
  }

  ir::Module m_;
  std::shared_ptr<detail::Kernel> interp_;
  mutable std::vector<std::pair<std::string, std::shared_ptr<detail::Kernel>>> others_;
};

/// Compiles for the interpreter (the oracle), verifying after each pass, and
/// checks every call against the other backends (DifferentialKernel).
template <class Sig>
Compiled<Sig> interp(const Staged<Sig>& s) {
  return Compiled<Sig>(std::make_shared<DifferentialKernel>(s.module({.verify_each_pass = true})));
}

/// True when every line of `checks` appears in `text`, in order (each
/// check is a substring of some later line), the way FileCheck reads CHECK.
inline bool check_lines(const std::string& text, const std::vector<std::string>& checks, std::string* why = nullptr) {
  size_t pos = 0;
  for (const auto& c : checks) {
    size_t at = text.find(c, pos);
    if (at == std::string::npos) {
      if (why) *why = "missing (in order): " + c;
      return false;
    }
    pos = text.find('\n', at);
    if (pos == std::string::npos) pos = text.size();
  }
  return true;
}

/// CHECK that check_lines(text, {...}) holds, showing the text and the
/// first missing line when it does not.
#define CHECK_LINES(text, ...)                                    \
  do {                                                            \
    std::string why_;                                             \
    bool ok_ = kiln::test::check_lines(text, __VA_ARGS__, &why_); \
    INFO(text);                                                   \
    INFO(why_);                                                   \
    CHECK(ok_);                                                   \
  } while (0)

/// Element-wise bit equality of two vectors (the elements as doubles: a
/// float widens exactly), for results that must be the same bits.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (std::memcmp(&x, &y, sizeof x) != 0) return false;
  }
  return true;
}

/// Number of occurrences of `needle` in `text`.
inline size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

/// A tanh MLP classifier (in -> hidden -> classes, batch rows) for training
/// tests: its softmax cross-entropy `loss` over the flat parameters of
/// `layout`, and a training `step` staged around value_and_grad<0>(loss)
/// as a staged call and nn::sgd with momentum 0.9, returning the loss
/// before the update. Parameters: loss(p, x, y); step(p, v, g, x, y, lr).
template <class T>
struct MlpTraining {
  kiln::nn::Layout layout;
  kiln::Staged<T(std::span<const T>, std::span<const T>, std::span<const int32_t>)> loss;
  kiln::Staged<T(std::span<T>, std::span<T>, std::span<T>, std::span<const T>, std::span<const int32_t>, T)> step;
};

template <class T>
MlpTraining<T> mlp_training(const std::string& loss_name, const std::string& step_name, int64_t batch, int64_t in,
                            int64_t hidden, int64_t classes) {
  kiln::nn::Layout layout;
  const auto w1 = layout.add({in, hidden}), b1 = layout.add({hidden});
  const auto w2 = layout.add({hidden, classes}), b2 = layout.add({classes});
  auto loss = kiln::stage(loss_name, [=](kiln::Arr<const T> p, kiln::Arr<const T> x, kiln::Arr<const int32_t> y) {
    kiln::Tensor<T> h = kiln::tanh(kiln::nn::linear(x.tensor({batch, in}), w1(p), b1(p)));
    return kiln::nn::softmax_cross_entropy(kiln::nn::linear(h, w2(p), b2(p)), y.tensor({batch}));
  });
  auto loss_and_grad = kiln::value_and_grad<0>(loss);
  auto step = kiln::stage(step_name, [=](kiln::Arr<T> p, kiln::Arr<T> v, kiln::Arr<T> g, kiln::Arr<const T> x,
                                         kiln::Arr<const int32_t> y, kiln::Rep<T> lr) {
    kiln::Rep<T> l = std::get<0>(loss_and_grad(p, x, y, g));
    kiln::nn::sgd<T>(p, g, v, lr, T(0.9));
    return l;
  });
  return {layout, loss, step};
}

}  // namespace kiln::test
