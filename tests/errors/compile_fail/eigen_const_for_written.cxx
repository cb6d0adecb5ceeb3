// A written Arr<T> parameter needs a writable Eigen object.
// expect: a written Arr<T> parameter needs a writable Eigen object
#include <kiln/eigen.h>
#include <kiln/kiln.h>

int main() {
  auto twice = kiln::stage("twice", [](kiln::Arr<const float> x, kiln::Arr<float> y) {
    kiln::for_(0, x.size(), [&](kiln::Rep<int64_t> i) { y[i] = 2.0f * x[i]; });
  });
  auto f = kiln::compile(twice);
  Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 2), y(2, 2);
#ifdef KILN_MISUSE
  const Eigen::MatrixXf& out = y;
#else
  Eigen::MatrixXf& out = y;
#endif
  f(x, out);
}
