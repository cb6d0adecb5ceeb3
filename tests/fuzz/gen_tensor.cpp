// Tensor programs (kiln-fuzz --tensors): the entry signature of every
// generated program (generator.h), with a body of tensor statements. Each
// statement builds a random tensor expression of a small static shape from
// loads of the float and double buffers, constants and the scalar
// parameters (elementwise math with broadcasting, comparisons and where,
// casts, reductions with and without keepdims, matmul, transpose, reshape,
// slice, broadcast_to, softmax), then stores it into a buffer or adds its
// sum or max into a scalar result. Some statements sit inside an if_ or a
// for_ (their tensors made and used inside the body). The oracle runs these
// programs with their tensor ops unlowered (check.cpp), so every lowering
// (fusion, temporaries, views read in place) is checked against the
// interpreter's direct execution of the tensor ops.
#include "gen_state.h"

#include <kiln/tensor.h>

#include <cmath>
#include <numeric>

namespace kiln::fuzz {
namespace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>()); }

// Shapes a statement's result may have: at most buffer_size elements, so
// any of them can be stored.
const Shape store_shapes[] = {{8}, {2, 4}, {4, 2}, {2, 2, 2}, {1, 8}, {3}, {2, 3}, {6}, {1}, {2, 1, 4}, {5}, {4}};

class TensorGen {
 public:
  TensorGen(Rng& rng, Rep<float>& f, Rep<double>& d, Arr<float> bf, Arr<double> bd, Arr<const double> cd)
      : rng_(rng), f_(f), d_(d), bf_(bf), bd_(bd), cd_(cd) {}

  void statement(int depth) {
    switch (depth < 2 ? rng_.weighted({6, 1, 1}) : 0) {
      case 1:
        kiln::if_(f_ < 0.5f, [&] { statement(depth + 1); }, [&] { statement(depth + 1); });
        return;
      case 2:
        kiln::for_(int64_t{0}, int64_t{2}, [&](Rep<int64_t>) { statement(depth + 1); });
        return;
      default: break;
    }
    const Shape s = rng_.pick(store_shapes);
    if (rng_.chance(0.5)) {
      Tensor<float> t = expr<float>(s, 3);
      finish(t, bf_, f_);
    } else {
      Tensor<double> t = expr<double>(s, 3);
      finish(t, bd_, d_);
    }
  }

 private:
  Rng& rng_;
  Rep<float>& f_;
  Rep<double>& d_;
  Arr<float> bf_;
  Arr<double> bd_;
  Arr<const double> cd_;

  template <class T>
  void finish(const Tensor<T>& t, Arr<T> out, Rep<T>& acc) {
    switch (rng_.below(4)) {
      case 0: acc += t.sum_all(); return;
      case 1: acc = kiln::max(acc, t.max_all()); return;
      default: {
        const int64_t room = buffer_size - t.numel();
        out.store(t, rng_.range(0, static_cast<int>(room)));
        return;
      }
    }
  }

  template <class T>
  T constant() {
    // Mostly ordinary values; sometimes the ones that break optimisers.
    if (rng_.chance(0.2)) return interesting<T>(rng_);
    return static_cast<T>(rng_.range(-8, 8)) * static_cast<T>(0.25);
  }

  template <class T>
  Tensor<T> leaf(const Shape& s) {
    const int64_t n = numel(s);
    switch (rng_.below(n <= buffer_size ? 5 : 2)) {
      case 0: return kiln::full<T>(s, constant<T>());
      case 1: {
        std::vector<T> values(static_cast<size_t>(n));
        for (T& v : values) v = constant<T>();
        return kiln::constant<T>(values, s);
      }
      case 2:
        if (rng_.chance(0.5)) return kiln::cast<T>(kiln::arange<int32_t>(n)).reshape(s);
        [[fallthrough]];
      default: {
        const int off = rng_.range(0, static_cast<int>(buffer_size - n));
        if constexpr (std::is_same_v<T, float>) {
          return bf_.tensor(s, off);
        } else {
          return rng_.chance(0.5) ? cd_.tensor(s, off) : bd_.tensor(s, off);
        }
      }
    }
  }

  // A shape that broadcasts to s: s itself, some axes 1, or a suffix of it.
  Shape broadcastable(const Shape& s) {
    Shape b = s;
    if (b.size() > 1 && rng_.chance(0.3)) b.erase(b.begin(), b.begin() + rng_.range(1, static_cast<int>(b.size()) - 1));
    for (int64_t& e : b)
      if (rng_.chance(0.3)) e = 1;
    return b;
  }

  template <class T>
  Rep<T> scalar() {
    if constexpr (std::is_same_v<T, float>) return rng_.chance(0.5) ? f_ : Rep<float>(d_);
    else return rng_.chance(0.5) ? d_ : Rep<double>(f_);
  }

  template <class T>
  Tensor<T> expr(const Shape& s, int depth) {
    if (depth <= 0 || rng_.chance(0.2)) return leaf<T>(s);
    const int64_t n = numel(s);
    switch (rng_.below(14)) {
      case 0: {  // unary math
        Tensor<T> x = expr<T>(s, depth - 1);
        switch (rng_.below(10)) {
          case 0: return -x;
          case 1: return kiln::abs(x);
          case 2: return kiln::exp(x);
          case 3: return kiln::tanh(x);
          case 4: return kiln::sin(x);
          case 5: return kiln::sqrt(kiln::abs(x));
          case 6: return kiln::log(kiln::abs(x) + T(1));
          case 7: return kiln::relu(x);
          case 8: return kiln::sigmoid(x);
          default: return kiln::floor(x);
        }
      }
      case 1:
      case 2: {  // binary, broadcasting
        Tensor<T> a = expr<T>(rng_.chance(0.7) ? s : broadcastable(s), depth - 1);
        Tensor<T> b = expr<T>(rng_.chance(0.5) ? s : broadcastable(s), depth - 1);
        if (a.shape() != s && b.shape() != s) a = a.broadcast_to(s);
        switch (rng_.below(7)) {
          case 0: return a + b;
          case 1: return a - b;
          case 2: return a * b;
          case 3: return a / b;
          case 4: return kiln::min(a, b);
          case 5: return kiln::max(a, b);
          default: return kiln::pow(kiln::abs(a), b);
        }
      }
      case 3: {  // with a scalar operand
        Tensor<T> x = expr<T>(s, depth - 1);
        Rep<T> c = scalar<T>();
        switch (rng_.below(4)) {
          case 0: return x * c;
          case 1: return c - x;
          case 2: return x + constant<T>();
          default: return kiln::max(x, c);
        }
      }
      case 4: {  // compare and where
        Tensor<T> a = expr<T>(s, depth - 1), b = expr<T>(broadcastable(s), depth - 1);
        Tensor<bool> c = rng_.chance(0.5) ? a < b : a >= b;
        return kiln::where(c, a, expr<T>(broadcastable(s), depth - 1));
      }
      case 5: {  // cast from the other float type
        using U = std::conditional_t<std::is_same_v<T, float>, double, float>;
        return kiln::cast<T>(expr<U>(s, depth - 1));
      }
      case 6: {  // a reduction over an inserted axis
        const int64_t r = rng_.range(1, 3);
        const int64_t axis = rng_.range(0, static_cast<int>(s.size()));
        Shape in = s;
        in.insert(in.begin() + axis, r);
        Tensor<T> x = expr<T>(in, depth - 1);
        const bool keep = rng_.chance(0.3);
        Tensor<T> y = rng_.chance(0.6) ? x.sum({axis}, keep) : rng_.chance(0.5) ? x.max({axis}, keep) : x.mean({axis}, keep);
        return keep ? y.reshape(s) : y;
      }
      case 7: {  // matmul (2-D or batched)
        if (s.size() < 2) break;
        const int64_t k = rng_.range(1, 4);
        Shape sa = s, sb = s;
        sa.back() = k;
        sb[sb.size() - 2] = k;
        if (s.size() == 3 && rng_.chance(0.4)) sb.erase(sb.begin());  // a 2-D right operand broadcast over the batch
        return kiln::matmul(expr<T>(sa, depth - 1), expr<T>(sb, depth - 1));
      }
      case 8: {  // transpose
        if (s.size() < 2) break;
        Shape in(s.rbegin(), s.rend());
        return expr<T>(in, depth - 1).transpose();
      }
      case 9: {  // reshape from another shape of as many elements
        for (const Shape& other : store_shapes)
          if (numel(other) == n && other != s && rng_.chance(0.5)) return expr<T>(other, depth - 1).reshape(s);
        return expr<T>({n}, depth - 1).reshape(s);
      }
      case 10: {  // slice along one axis
        const int64_t axis = rng_.below(static_cast<int>(s.size()));
        const int64_t step = rng_.range(1, 2), start = rng_.range(0, 1);
        Shape in = s;
        in[axis] = start + (s[axis] - 1) * step + 1 + rng_.range(0, 1);
        return expr<T>(in, depth - 1).slice(axis, start, start + (s[axis] - 1) * step + 1, step);
      }
      case 11:  // broadcast_to
        return expr<T>(broadcastable(s), depth - 1).broadcast_to(s);
      case 12:  // softmax along the last axis
        return rng_.chance(0.5) ? kiln::softmax(expr<T>(s, depth - 1)) : kiln::log_softmax(expr<T>(s, depth - 1));
      default: break;
    }
    return expr<T>(s, depth - 1) * scalar<T>();
  }
};

}  // namespace

ir::Module generate_tensors(uint64_t seed, const Knobs&) {
  Rng rng(seed);
  auto entry = kiln::stage(
      "fuzz",
      [&](Rep<bool> b, Rep<int32_t> i, Rep<int64_t> l, Rep<float> f, Rep<double> d, Arr<int32_t>, Arr<int64_t>,
          Arr<float> bf, Arr<double> bd, Arr<const double> cd, Arr<int32_t>,
          Arr<double>) -> std::tuple<Rep<bool>, Rep<int32_t>, Rep<int64_t>, Rep<float>, Rep<double>> {
        TensorGen g(rng, f, d, bf, bd, cd);
        const int statements = rng.range(1, 6);
        for (int k = 0; k < statements; ++k) g.statement(0);
        return {b, i, l, f, d};
      });
  return kiln::detail::build_module(entry.state());
}

}  // namespace kiln::fuzz
