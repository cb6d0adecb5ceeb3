// mlp_train: a staged model, trained with a JIT-compiled training step.
//
// The task is made here: three interleaved spirals in the plane, 3 classes,
// split into a training and a test set. The model is an MLP 2-64-64-3 with
// tanh activations, written with kiln::Tensor ops and kiln/nn.h. The
// training step is one staged function:
//
//   loss        forward pass + softmax cross-entropy (tensor ops)
//   grad(loss)  reverse mode at tensor level: matmul's adjoint is two matmuls
//   Adam        the optimizer's update over the flat parameter buffer (staged code)
//
// kiln fuses the elementwise ops into the matmuls' and reductions' loop
// nests and compiles the whole step with LLVM. The program prints a
// progress bar per epoch, writes the loss curve as an SVG and the step's
// generated C++ into a folder, and ends with `test_accuracy <value>`.
//
//   mlp_train [output folder (default: mlp_out)] [epochs (default: 100)]
#include <kiln/kiln.h>
#include <kiln/nn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <vector>

using namespace kiln;

namespace {

constexpr int64_t classes = 3, hidden = 64, batch = 128;

struct Data {
  std::vector<float> x;  // [n, 2]
  std::vector<int32_t> y;
  int64_t n() const { return static_cast<int64_t>(y.size()); }
};

// Three spirals with a little noise, shuffled.
Data spirals(int64_t per_class, std::mt19937& rng) {
  std::normal_distribution<double> noise(0.0, 0.04);
  std::vector<int64_t> order(static_cast<size_t>(per_class * classes));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::shuffle(order.begin(), order.end(), rng);
  Data d;
  for (int64_t k : order) {
    const int64_t c = k / per_class, i = k % per_class;
    const double r = static_cast<double>(i) / static_cast<double>(per_class);
    const double t = 5.0 * r + 2 * std::numbers::pi * static_cast<double>(c) / classes;
    d.x.push_back(static_cast<float>(r * std::cos(t) + noise(rng)));
    d.x.push_back(static_cast<float>(r * std::sin(t) + noise(rng)));
    d.y.push_back(static_cast<int32_t>(c));
  }
  return d;
}

// A polyline of the loss per epoch.
void write_svg(const std::filesystem::path& path, const std::vector<double>& loss) {
  const double w = 640, h = 360, pad = 40;
  const double top = *std::max_element(loss.begin(), loss.end());
  std::ofstream out(path);
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h << "'>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << pad << "' y='24' font-family='sans-serif' font-size='14'>mlp_train: training loss per epoch</text>\n"
      << "<line x1='" << pad << "' y1='" << h - pad << "' x2='" << w - pad << "' y2='" << h - pad << "' stroke='black'/>\n"
      << "<line x1='" << pad << "' y1='" << pad << "' x2='" << pad << "' y2='" << h - pad << "' stroke='black'/>\n"
      << "<polyline fill='none' stroke='steelblue' stroke-width='2' points='";
  for (size_t i = 0; i < loss.size(); ++i) {
    const double px = pad + (w - 2 * pad) * static_cast<double>(i) / std::max<double>(1, static_cast<double>(loss.size() - 1));
    const double py = h - pad - (h - 2 * pad) * loss[i] / top;
    out << px << "," << py << " ";
  }
  out << "'/>\n<text x='" << pad + 4 << "' y='" << pad + 12 << "' font-family='sans-serif' font-size='11'>" << top
      << "</text>\n</svg>\n";
}

void progress(int epoch, int epochs, double loss, double acc, double ms) {
  constexpr int width = 30;
  const int done = width * epoch / epochs;
  std::printf("\r[%s%s] epoch %3d/%d  loss %.4f  train acc %.3f  (%.1f ms/epoch)", std::string(done, '#').c_str(),
              std::string(width - done, '.').c_str(), epoch, epochs, loss, acc, ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path out = argc > 1 ? argv[1] : "mlp_out";
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 100;
  std::filesystem::create_directories(out);

  std::mt19937 rng(7);
  Data train = spirals(1024, rng), test = spirals(256, rng);

  // The model: every parameter in one flat buffer.
  nn::Layout layout;
  const auto w1 = layout.add({2, hidden}), b1 = layout.add({hidden});
  const auto w2 = layout.add({hidden, hidden}), b2 = layout.add({hidden});
  const auto w3 = layout.add({hidden, classes}), b3 = layout.add({classes});
  auto logits = [&](const Arr<const float>& p, const Tensor<float>& x) {
    Tensor<float> h = tanh(nn::linear(x, w1(p), b1(p)));
    h = tanh(nn::linear(h, w2(p), b2(p)));
    return nn::linear(h, w3(p), b3(p));
  };

  auto loss = stage("loss", [&](Arr<const float> p, Arr<const float> x, Arr<const int32_t> y) {
    return nn::softmax_cross_entropy(logits(p, x.tensor({batch, 2})), y.tensor({batch}));
  });
  auto loss_and_grad = value_and_grad<0>(loss);
  // The training step: forward, backward and the update in one function.
  auto train_step = stage("train_step", {"params", "m", "v", "grads", "x", "y", "lr", "t"},
                          [&](Arr<float> p, Arr<float> m, Arr<float> v, Arr<float> g, Arr<const float> x,
                              Arr<const int32_t> y, Rep<float> lr, Rep<float> t) {
                            Rep<float> l = std::get<0>(loss_and_grad(p, x, y, g));
                            nn::adam<float>(p, g, m, v, lr, t);
                            return l;
                          });
  const int64_t n_test = test.n();
  auto accuracy = stage("accuracy", [&](Arr<const float> p, Arr<const float> x, Arr<const int32_t> y) {
    return nn::accuracy(logits(p, x.tensor({n_test, 2})), y.tensor({n_test}));
  });
  const int64_t n_train = train.n();
  auto train_accuracy = stage("train_accuracy", [&](Arr<const float> p, Arr<const float> x, Arr<const int32_t> y) {
    return nn::accuracy(logits(p, x.tensor({n_train, 2})), y.tensor({n_train}));
  });

  const auto t0 = std::chrono::steady_clock::now();
  auto step = compile(train_step);
  auto test_acc = compile(accuracy);
  auto train_acc = compile(train_accuracy);
  const double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("mlp 2-%lld-%lld-%lld, %lld parameters; %lld training and %lld test points; batch %lld\n",
              static_cast<long long>(hidden), static_cast<long long>(hidden), static_cast<long long>(classes),
              static_cast<long long>(layout.size()), static_cast<long long>(train.n()),
              static_cast<long long>(test.n()), static_cast<long long>(batch));
  std::printf("staged and compiled the training step and the evaluations in %.0f ms\n", compile_ms);

  export_source(train_step, out / "train_step.cpp");
  export_header(train_step, out / "train_step.h");

  std::vector<float> params(static_cast<size_t>(layout.size())), m(params.size()), v(params.size()),
      grads(params.size());
  nn::init<float>(layout, params, rng);
  std::vector<double> curve;
  const int64_t batches = train.n() / batch;
  int64_t t = 0;  // Adam's step count
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto e0 = std::chrono::steady_clock::now();
    const float lr = epoch <= epochs * 2 / 3 ? 0.01f : 0.002f;
    double sum = 0;
    for (int64_t b = 0; b < batches; ++b) {
      std::span<const float> x(train.x.data() + b * batch * 2, static_cast<size_t>(batch * 2));
      std::span<const int32_t> y(train.y.data() + b * batch, static_cast<size_t>(batch));
      sum += step(params, m, v, grads, x, y, lr, static_cast<float>(++t));
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count();
    curve.push_back(sum / static_cast<double>(batches));
    progress(epoch, epochs, curve.back(), train_acc(params, train.x, train.y), ms);
  }
  std::printf("\n");
  write_svg(out / "loss.svg", curve);
  std::printf("wrote %s (loss curve) and %s (the training step as C++)\n", (out / "loss.svg").c_str(),
              (out / "train_step.cpp").c_str());
  const float acc = test_acc(params, test.x, test.y);
  std::printf("test_accuracy %.4f\n", acc);
  return acc >= 0.95f ? 0 : 1;
}
