// An Eigen object's scalar type must be the Arr<T> parameter's T.
// expect: the Eigen object's Scalar is not the Arr<T> parameter's T
#include <kiln/eigen.h>
#include <kiln/kiln.h>

int main() {
  auto twice = kiln::stage("twice", [](kiln::Arr<const float> x, kiln::Arr<float> y) {
    kiln::for_(0, x.size(), [&](kiln::Rep<int64_t> i) { y[i] = 2.0f * x[i]; });
  });
  auto f = kiln::compile(twice);
#ifdef KILN_MISUSE
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 2);
#else
  Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 2);
#endif
  Eigen::MatrixXf y(2, 2);
  f(x, y);
}
