// Calling a compiled function: arguments that kiln::as_span adapts to the
// span an Arr parameter takes, mixed with spans, vectors and scalars; the
// adapter gets the caller's location. (kiln/eigen.h's adapter is tested in
// tests/stage/eigen_interop.cpp.)
#include "support.h"

#include <source_location>
#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using kiln::Arr;
using kiln::Rep;

namespace {

/// A container of another library: contiguous, but not a range std::span
/// converts from.
struct Samples {
  std::vector<double> values;
  bool refuse = false;  // its adapter throws, naming the caller
};

}  // namespace

template <>
struct kiln::as_span<Samples> {
  using element_type = double;
  template <class E, class X>
  static std::span<E> to_span(X& s, std::source_location where) {
    if (s.refuse) throw kiln::ShapeError(kiln::user_message("refused", where, "do something else"));
    return {s.values.data(), s.values.size()};
  }
};

TEST_CASE("compile: arguments that kiln::as_span adapts mix with spans, vectors and scalars", "[compile]") {
  auto axpy = kiln::stage("axpy", [](Rep<double> a, Arr<const double> x, Arr<double> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
  auto f = kiln::test::interp(axpy);
  Samples x{{1, 2, 3}}, y{{10, 20, 30}};
  const Samples& read_only = x;
  f(2, read_only, y);  // an int for the double, a const Samples for Arr<const double>
  CHECK(y.values == std::vector<double>{12, 24, 36});
  std::vector<double> v = {1, 1, 1};
  f(1.0, v, y);  // a vector and a Samples
  f(1.0, x, std::span<double>(v));
  CHECK(y.values == std::vector<double>{13, 25, 37});
  CHECK(v == std::vector<double>{2, 3, 4});
  // Spans and vectors alone still take the plain call operator.
  std::vector<double> w = {0, 0, 0};
  f(1.0, v, w);
  CHECK(w == v);

  x.refuse = true;
  int line = __LINE__; std::string msg = kiln::test::error_message<kiln::ShapeError>([&] { f(1.0, x, y); });
  CHECK_THAT(msg, Contains("call_arguments.cpp:" + std::to_string(line)) && Contains("do something else"));
}
