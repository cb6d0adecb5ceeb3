// Neural-network building blocks: ordinary C++ functions over staged
// tensors, so a model is plain staged code that kiln differentiates,
// fuses and compiles like any other (docs/staged-models.md).
//
//   kiln::nn::Layout layout;                       // every parameter in one flat buffer
//   auto w1 = layout.add({2, 64}), b1 = layout.add({64});
//   auto loss = kiln::stage("loss", [&](kiln::Arr<const float> p, kiln::Arr<const float> x,
//                                       kiln::Arr<const int32_t> y) {
//     auto h = kiln::relu(kiln::nn::linear(x.tensor({256, 2}), w1(p), b1(p)));
//     ...
//     return kiln::nn::softmax_cross_entropy(logits, y.tensor({256}));
//   });
//   auto step = kiln::stage("step", [&](kiln::Arr<float> p, ...) {
//     auto g = ...; kiln::grad<0>(loss)(p, x, y, g);   // a staged call
//     kiln::nn::sgd(p, g, velocity, lr, 0.9f);
//   });
#pragma once

#include <kiln/tensor.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace kiln::nn {

/// Where each parameter tensor lives in one flat parameter buffer, so one
/// gradient buffer and one optimizer state cover the whole model.
class Layout {
 public:
  /// A parameter: its shape and offset; call it with the buffer (in a
  /// staged function) for the tensor view.
  struct Param {
    std::vector<int64_t> shape;
    int64_t offset = 0;
    int64_t size() const {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      return n;
    }
    template <class T>
    Tensor<std::remove_const_t<T>> operator()(const Arr<T>& params, detail::Loc loc = detail::Loc::current()) const {
      return params.tensor(shape, offset, loc);
    }
  };

  /// Appends a parameter of this shape.
  Param add(std::vector<int64_t> shape) {
    Param p{std::move(shape), size_};
    size_ += p.size();
    params_.push_back(p);
    return p;
  }
  /// Elements of the whole buffer.
  int64_t size() const { return size_; }
  const std::vector<Param>& params() const { return params_; }

 private:
  int64_t size_ = 0;
  std::vector<Param> params_;
};

/// x W + b for x [batch, in], W [in, out], b [out].
template <class T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, detail::Loc loc = detail::Loc::current()) {
  return matmul(x, w, loc) + b;
}

/// Mean squared error over every element.
template <class T>
Rep<T> mse(const Tensor<T>& pred, const Tensor<T>& target, detail::Loc loc = detail::Loc::current()) {
  Tensor<T> d = pred - target;
  return (d * d).mean_all(loc);
}

/// Mean over the batch of -log softmax(logits)[label], for logits
/// [batch, classes] and integer labels [batch].
template <class T, class I>
Rep<T> softmax_cross_entropy(const Tensor<T>& logits, const Tensor<I>& labels,
                             detail::Loc loc = detail::Loc::current()) {
  return -gather(log_softmax(logits, -1, loc), labels, loc).mean_all(loc);
}

/// Fraction of rows whose label's logit is the row's largest (a tie counts).
template <class T, class I>
Rep<T> accuracy(const Tensor<T>& logits, const Tensor<I>& labels, detail::Loc loc = detail::Loc::current()) {
  Tensor<bool> hit = gather(logits, labels, loc) >= logits.max({-1}, false, loc);
  return cast<T>(hit, loc).mean_all(loc);
}

/// SGD with momentum, as staged code over the flat buffers:
/// v = momentum v + g; p -= lr v.
template <class T>
void sgd(const Arr<T>& params, const Arr<const T>& grads, const Arr<T>& velocity, Rep<T> lr, T momentum,
         detail::Loc loc = detail::Loc::current()) {
  parallel_for_(0, params.size(loc), [&](Rep<int64_t> i) {
    Rep<T> v = momentum * velocity[i] + grads[i];
    velocity[i] = v;
    params[i] = params[i] - lr * v;
  });
}

/// Adam (Kingma and Ba), as staged code over the flat buffers; `step` counts
/// from 1. m and v are the moment buffers (start them at zero).
template <class T>
void adam(const Arr<T>& params, const Arr<const T>& grads, const Arr<T>& m, const Arr<T>& v, Rep<T> lr, Rep<T> step,
          T beta1 = T(0.9), T beta2 = T(0.999), T eps = T(1e-8), detail::Loc loc = detail::Loc::current()) {
  Rep<T> c1 = T(1) - pow(Rep<T>(beta1), step), c2 = T(1) - pow(Rep<T>(beta2), step);
  parallel_for_(0, params.size(loc), [&](Rep<int64_t> i) {
    Rep<T> g = grads[i];
    Rep<T> mi = beta1 * m[i] + (T(1) - beta1) * g;
    Rep<T> vi = beta2 * v[i] + (T(1) - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] - lr * (mi / c1) / (sqrt(vi / c2) + eps);
  });
}

/// Glorot/Xavier-uniform initial weights for a [fan_in, fan_out] matrix
/// (host code, run once): uniform in +-sqrt(6 / (fan_in + fan_out)).
template <class T>
void glorot_uniform(std::span<T> w, int64_t fan_in, int64_t fan_out, std::mt19937& rng) {
  const double a = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  std::uniform_real_distribution<double> u(-a, a);
  for (T& x : w) x = static_cast<T>(u(rng));
}

/// Initialises a flat parameter buffer: matrices (rank 2) Glorot-uniform,
/// everything else (biases) zero.
template <class T>
void init(const Layout& layout, std::span<T> params, std::mt19937& rng) {
  for (const Layout::Param& p : layout.params()) {
    std::span<T> part = params.subspan(static_cast<size_t>(p.offset), static_cast<size_t>(p.size()));
    if (p.shape.size() == 2)
      glorot_uniform(part, p.shape[0], p.shape[1], rng);
    else
      for (T& x : part) x = T(0);
  }
}

}  // namespace kiln::nn
