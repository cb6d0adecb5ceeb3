// kiln's side of `scripts/bench --peers` (bench/peers/README.md): the
// kernels of the peer comparison written in kiln, timed on Backend::llvm
// with default Options ("kiln") and with fast_math ("kiln_fm"), and run once
// on Backend::interp, whose results are the reference every system is
// cross-checked against (<work>/ref/).
//
//   kiln_peer WORKDIR [--quick] [--only k1,k2] [--ref-only]
//
// Inputs are the .npy files peers_common.make_inputs wrote; outputs and
// results follow peers_common.Results (results/<system>.json, out/<system>/).
// One thread: kiln's pool is sized to 1 here, whatever KILN_THREADS says.
// The disk cache is off (KILN_DISK_CACHE=0), so first_call_ms is staging,
// optimising, compiling with LLVM and one call.
#include "backends/runtime/thread_pool.h"

#include "../kernels.h"

#include <kiln/autodiff.h>
#include <kiln/kiln.h>
#include <kiln/nn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;

// --- sizes: the same as peers_common.py -----------------------------------------------
constexpr int64_t kGrid = 1024;
// kMat (64, the matmul size) comes from bench/kernels.h.
constexpr float kSaxpyA = 2.5f;
constexpr int32_t kMandelW = 256, kMandelH = 256, kMandelIter = 256;
constexpr double kMandelX0 = -2.0, kMandelY0 = -1.5, kMandelStep = 3.0 / 256;
constexpr double kRecurX = 0.3, kRecurA = 0.9;
constexpr int kRecurSteps = 1000;

// --- .npy ---------------------------------------------------------------------------------
struct Npy {
  std::string dtype;  // "<f4", "<f8", "<i4"
  std::vector<int64_t> shape;
  std::vector<char> bytes;
  template <class T> std::vector<T> as() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

Npy read_npy(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string() + " (run bench/peers/peers_common.py WORKDIR first)");
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) fail(path.string() + ": not a .npy file");
  const size_t hlen = static_cast<unsigned char>(raw[8]) | (static_cast<unsigned char>(raw[9]) << 8);
  const std::string header = raw.substr(10, hlen);
  Npy n;
  const auto descr = header.find("'descr': '");
  n.dtype = header.substr(descr + 10, 3);
  const auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  for (std::string d; std::getline(dims, d, ',');)
    if (d.find_first_not_of(' ') != std::string::npos) n.shape.push_back(std::stoll(d));
  n.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(10 + hlen), raw.end());
  return n;
}

template <class T> const char* dtype_of() {
  if constexpr (std::is_same_v<T, float>) return "<f4";
  else if constexpr (std::is_same_v<T, double>) return "<f8";
  else return "<i4";
}

// The header peers_common.write_npy writes (padded to 64 bytes, as numpy's).
template <class T> void write_npy(const fs::path& path, const std::vector<T>& v, const std::vector<int64_t>& shape) {
  std::string dims = "(";
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 ? ",)" : i + 1 < shape.size() ? ", " : ")");
  if (shape.empty()) dims += ")";
  std::string header = std::string("{'descr': '") + dtype_of<T>() + "', 'fortran_order': False, 'shape': " + dims + ", }";
  header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!out) fail("cannot write " + path.string());
}

// --- timing: peers_common.median_us and first_call_ms ---------------------------------
double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool g_quick = false;

double median_us(const std::function<void()>& call) {
  const double min_seconds = g_quick ? 0.05 : 0.5;
  const size_t min_samples = g_quick ? 3 : 15, max_samples = 2000;
  call();
  const double one = std::max(seconds_of(call), 1e-9);
  const int batch = std::max(1, static_cast<int>(1e-4 / one));
  std::vector<double> samples;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (samples.size() < max_samples && (samples.size() < min_samples || elapsed() < min_seconds))
    samples.push_back(seconds_of([&] {
                        for (int i = 0; i < batch; ++i) call();
                      }) /
                      batch);
  std::sort(samples.begin(), samples.end());
  const size_t m = samples.size();
  return (m % 2 ? samples[m / 2] : 0.5 * (samples[m / 2 - 1] + samples[m / 2])) * 1e6;
}

// --- results: the JSON peers_common.Results writes ------------------------------------
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  return out + "\"";
}

std::string json_number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Where a kernel writes its outputs: "out/<system>/" or "ref/".
struct Sink {
  fs::path work;
  std::string dir;  // relative to work, ends in '/'
  std::map<std::string, std::string> files;
  template <class T> void put(const std::string& kernel, const std::string& name, const std::vector<T>& v,
                              const std::vector<int64_t>& shape) {
    const std::string rel = dir + kernel + "." + name + ".npy";
    write_npy(work / rel, v, shape);
    files[name] = rel;
  }
  template <class T> void scalar(const std::string& kernel, const std::string& name, T x) { put(kernel, name, std::vector<T>{x}, {}); }
};

struct Results {
  fs::path work;
  std::string system, notes;
  std::vector<std::string> entries;
  void ok(const std::string& kernel, double first_ms, double run_us, const Sink& sink, double primal_us) {
    std::string e = json_string(kernel) + ": {\"status\": \"ok\", \"first_call_ms\": " + json_number(first_ms) +
                    ", \"run_us\": " + json_number(run_us);
    if (primal_us > 0) e += ", \"primal_us\": " + json_number(primal_us);
    e += ", \"outputs\": {";
    bool first = true;
    for (const auto& [name, rel] : sink.files) {
      e += (first ? "" : ", ") + json_string(name) + ": " + json_string(rel);
      first = false;
    }
    entries.push_back(e + "}}");
  }
  void not_run(const std::string& kernel, const std::string& why) {
    entries.push_back(json_string(kernel) + ": {\"status\": \"not run\", \"reason\": " + json_string(why) + "}");
  }
  void write() const {
    fs::create_directories(work / "results");
    std::ofstream out(work / "results" / (system + ".json"));
    out << "{\"system\": " << json_string(system) << ", \"version\": " << json_string("kiln (this tree), Backend::llvm, LLVM 19")
        << ", \"threads\": 1, \"notes\": " << json_string(notes) << ", \"kernels\": {\n";
    for (size_t i = 0; i < entries.size(); ++i) out << " " << entries[i] << (i + 1 < entries.size() ? ",\n" : "\n");
    out << "}}\n";
    if (!out) fail("cannot write the results of " + system);
  }
};

// --- the inputs -----------------------------------------------------------------------------
struct Inputs {
  std::vector<float> x, y, A, B;
  std::vector<double> u;
  struct Mlp {
    std::vector<std::vector<float>> W, b;
    std::vector<std::vector<int64_t>> wshape;
    std::vector<float> x;
    std::vector<int32_t> labels;
    std::vector<int64_t> widths;
    int64_t batch = 0;
  };
  std::map<std::string, Mlp> mlp;
};

Inputs read_inputs(const fs::path& work) {
  const fs::path d = work / "inputs";
  Inputs in;
  in.x = read_npy(d / "x.npy").as<float>();
  in.y = read_npy(d / "y.npy").as<float>();
  in.u = read_npy(d / "u.npy").as<double>();
  in.A = read_npy(d / "A.npy").as<float>();
  in.B = read_npy(d / "B.npy").as<float>();
  if (in.u.size() != static_cast<size_t>(kGrid * kGrid) || in.A.size() != static_cast<size_t>(kMat * kMat))
    fail("the inputs' sizes differ from this binary's (peers_common.py changed? rebuild and rerun)");
  for (const std::string name : {"mlp_large", "mlp_small"}) {
    Inputs::Mlp m;
    for (int l = 0;; ++l) {
      const fs::path w = d / (name + ".W" + std::to_string(l) + ".npy");
      if (!fs::exists(w)) break;
      Npy wn = read_npy(w);
      if (l == 0) m.widths.push_back(wn.shape.at(0));
      m.widths.push_back(wn.shape.at(1));
      m.wshape.push_back(wn.shape);
      m.W.push_back(wn.as<float>());
      m.b.push_back(read_npy(d / (name + ".b" + std::to_string(l) + ".npy")).as<float>());
    }
    Npy xn = read_npy(d / (name + ".x.npy"));
    m.batch = xn.shape.at(0);
    m.x = xn.as<float>();
    m.labels = read_npy(d / (name + ".labels.npy")).as<int32_t>();
    in.mlp[name] = std::move(m);
  }
  return in;
}

// --- the kernels ---------------------------------------------------------------------------
// Each kernel: a function that stages, compiles with `opts` and returns a
// call that runs it on the inputs; the first call also fills `sink` with
// the outputs. Written as a kiln user would: loops for the scalar kernels,
// tensors for matmul and the MLPs, grad/value_and_grad for the gradients.

using Call = std::function<void()>;
struct Kernel {
  std::string name;
  // Stages, compiles and returns the call; `emit` writes the outputs of one
  // call (made right after the first) into a sink.
  std::function<Call(const kiln::Options&, std::function<void(Sink&)>& emit)> make;
  // For .grad kernels: the loss alone, for primal_us.
  std::function<Call(const kiln::Options&)> primal = {};
};

auto stage_loss_chain() {
  return kiln::stage("chain_loss", {"x", "y"}, [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<float> a = x[i], b = y[i];
      acc += kiln::sqrt(kiln::fma(a, b, Rep<float>(1.0f))) * a + b;
    });
    return acc;
  });
}

auto stage_loss_dot() {
  return kiln::stage("dot", {"x", "y"}, [](Arr<const float> x, Arr<const float> y) {
    Rep<float> acc = 0.0f;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += x[i] * y[i]; });
    return acc;
  });
}

// The interior point c of the 5-point stencil on an n x n grid.
template <class In> Rep<double> stencil_at(const In& u, Rep<int64_t> c, int64_t n) {
  return 0.5 * u[c] + 0.125 * (u[c - 1] + u[c + 1] + u[c - n] + u[c + n]);
}

auto stage_loss_stencil() {
  return kiln::stage("stencil_loss", {"u"}, [](Arr<const double> u) {
    Rep<double> acc = 0.0;
    kiln::for_(1, kGrid - 1, [&](Rep<int64_t> i) {
      kiln::for_(1, kGrid - 1, [&](Rep<int64_t> j) {
        Rep<double> v = stencil_at(u, i * kGrid + j, kGrid);
        acc += v * v;
      });
    });
    return acc;
  });
}

auto stage_loss_matmul() {
  return kiln::stage("matmul_loss", {"a", "b"}, [](Arr<const float> a, Arr<const float> b) {
    Tensor<float> c = kiln::matmul(a.tensor({kMat, kMat}), b.tensor({kMat, kMat}));
    return (c * c).sum_all();
  });
}

auto stage_recurrence() {
  return kiln::stage("recurrence", {"x", "a"}, [](Rep<double> x, Rep<double> a) {
    Rep<double> s = x;
    kiln::for_(0, kRecurSteps, [&](Rep<int64_t>) { s = kiln::sin(s) * a + 0.1 * x; });
    return s;
  });
}

std::vector<Kernel> kernels(const Inputs& in) {
  const int64_t n = static_cast<int64_t>(in.x.size());
  std::vector<Kernel> ks;
  ks.push_back({"saxpy", [&in, n](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(kiln::stage("saxpy", {"a", "x", "y", "z"},
                                                     [](Rep<float> a, Arr<const float> x, Arr<const float> y, Arr<float> z) {
                                                       kiln::for_(0, x.size(), [&](Rep<int64_t> i) { z[i] = a * x[i] + y[i]; });
                                                     }),
                                         o);
                  auto z = std::make_shared<std::vector<float>>(in.x.size());
                  emit = [z, n](Sink& s) { s.put("saxpy", "z", *z, {n}); };
                  return Call([f, z, &in] { f(kSaxpyA, in.x, in.y, *z); });
                }});
  ks.push_back({"chain", [&in, n](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(kiln::stage("chain", {"x", "y", "z"},
                                                     [](Arr<const float> x, Arr<const float> y, Arr<float> z) {
                                                       kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
                                                         Rep<float> a = x[i], b = y[i];
                                                         z[i] = kiln::sqrt(kiln::fma(a, b, Rep<float>(1.0f))) * a + b;
                                                       });
                                                     }),
                                         o);
                  auto z = std::make_shared<std::vector<float>>(in.x.size());
                  emit = [z, n](Sink& s) { s.put("chain", "z", *z, {n}); };
                  return Call([f, z, &in] { f(in.x, in.y, *z); });
                }});
  ks.push_back({"dot", [&in](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(stage_loss_dot(), o);
                  auto s = std::make_shared<float>(0.0f);
                  emit = [s](Sink& k) { k.scalar("dot", "s", *s); };
                  return Call([f, s, &in] { *s = f(in.x, in.y); });
                }});
  ks.push_back({"stencil", [&in](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(kiln::stage("stencil5", {"u", "v"}, [](Arr<const double> u, Arr<double> v) {
                                           kiln::for_(1, kGrid - 1, [&](Rep<int64_t> i) {
                                             kiln::for_(1, kGrid - 1, [&](Rep<int64_t> j) {
                                               Rep<int64_t> c = i * kGrid + j;
                                               v[c] = stencil_at(u, c, kGrid);
                                             });
                                           });
                                         }),
                                         o);
                  // The border is never written: zero from the start, as the README's v.
                  auto v = std::make_shared<std::vector<double>>(in.u.size(), 0.0);
                  emit = [v](Sink& s) { s.put("stencil", "v", *v, {kGrid, kGrid}); };
                  return Call([f, v, &in] { f(in.u, *v); });
                }});
  ks.push_back({"mandel", [](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  // The LLVM benchmark's kernel (bench/kernels.h): a while_ per pixel.
                  auto f = kiln::compile(stage_mandel(), o);
                  auto c = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(kMandelW * kMandelH));
                  emit = [c](Sink& s) { s.put("mandel", "count", *c, {kMandelH, kMandelW}); };
                  return Call([f, c] { f(*c, kMandelW, kMandelH, kMandelX0, kMandelY0, kMandelStep, kMandelIter); });
                }});
  ks.push_back({"recurrence", [](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(stage_recurrence(), o);
                  auto s = std::make_shared<double>(0.0);
                  emit = [s](Sink& k) { k.scalar("recurrence", "s", *s); };
                  return Call([f, s] { *s = f(kRecurX, kRecurA); });
                }});
  ks.push_back({"matmul", [&in](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto f = kiln::compile(kiln::stage("matmul", {"a", "b", "c"},
                                                     [](Arr<const float> a, Arr<const float> b, Arr<float> c) {
                                                       c.store(kiln::matmul(a.tensor({kMat, kMat}), b.tensor({kMat, kMat})));
                                                     }),
                                         o);
                  auto c = std::make_shared<std::vector<float>>(in.A.size());
                  emit = [c](Sink& s) { s.put("matmul", "c", *c, {kMat, kMat}); };
                  return Call([f, c, &in] { f(in.A, in.B, *c); });
                }});
  for (const std::string name : {"mlp_large", "mlp_small"}) {
    ks.push_back({name, [&in, name](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                    const Inputs::Mlp& m = in.mlp.at(name);
                    kiln::nn::Layout layout;
                    std::vector<kiln::nn::Layout::Param> w, b;
                    for (size_t l = 0; l + 1 < m.widths.size(); ++l) {
                      w.push_back(layout.add({m.widths[l], m.widths[l + 1]}));
                      b.push_back(layout.add({m.widths[l + 1]}));
                    }
                    const int64_t batch = m.batch, width = m.widths.front();
                    const bool relu = name == "mlp_large";
                    auto loss = kiln::stage(name + "_loss", [=](Arr<const float> p, Arr<const float> x, Arr<const int32_t> y) {
                      Tensor<float> h = x.tensor({batch, width});
                      for (size_t l = 0; l < w.size(); ++l) {
                        h = kiln::nn::linear(h, w[l](p), b[l](p));
                        if (l + 1 < w.size()) h = relu ? kiln::relu(h) : kiln::tanh(h);
                      }
                      return kiln::nn::softmax_cross_entropy(h, y.tensor({batch}));
                    });
                    auto loss_and_grad = kiln::value_and_grad<0>(loss);
                    auto step = kiln::compile(
                        kiln::stage(name + "_step", {"params", "grads", "x", "y", "lr"},
                                    [=](Arr<float> p, Arr<float> g, Arr<const float> x, Arr<const int32_t> y, Rep<float> lr) {
                                      Rep<float> l = std::get<0>(loss_and_grad(p, x, y, g));
                                      kiln::for_(0, p.size(), [&](Rep<int64_t> i) { p[i] = p[i] - lr * g[i]; });
                                      return l;
                                    }),
                        o);
                    struct State {
                      std::vector<float> params, grads;
                      float loss = 0;
                    };
                    auto st = std::make_shared<State>();
                    st->params.resize(static_cast<size_t>(layout.size()));
                    st->grads.resize(st->params.size());
                    for (size_t l = 0; l < w.size(); ++l) {
                      std::copy(m.W[l].begin(), m.W[l].end(), st->params.begin() + w[l].offset);
                      std::copy(m.b[l].begin(), m.b[l].end(), st->params.begin() + b[l].offset);
                    }
                    emit = [st, w, b, name](Sink& s) {
                      s.scalar(name, "loss", st->loss);
                      for (size_t l = 0; l < w.size(); ++l) {
                        auto part = [&](const kiln::nn::Layout::Param& q) {
                          return std::vector<float>(st->params.begin() + q.offset, st->params.begin() + q.offset + q.size());
                        };
                        const std::string layer = std::to_string(l);  // not "W" + to_string: GCC 12's -Wrestrict false alarm
                        s.put(name, std::string("W").append(layer), part(w[l]), {w[l].shape[0], w[l].shape[1]});
                        s.put(name, std::string("b").append(layer), part(b[l]), {b[l].shape[0]});
                      }
                    };
                    return Call([step, st, &m] { st->loss = step(st->params, st->grads, m.x, m.labels, 0.1f); });
                  }});
  }
  ks.push_back({"chain.grad",
                [&in, n](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto g = kiln::compile(kiln::grad<0>(stage_loss_chain()), o);
                  auto gx = std::make_shared<std::vector<float>>(in.x.size());
                  emit = [gx, n](Sink& s) { s.put("chain.grad", "gx", *gx, {n}); };
                  return Call([g, gx, &in] { g(in.x, in.y, *gx); });
                },
                [&in](const kiln::Options& o) {
                  auto f = kiln::compile(stage_loss_chain(), o);
                  return Call([f, &in] { volatile float s = f(in.x, in.y); (void)s; });
                }});
  ks.push_back({"dot.grad",
                [&in, n](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto g = kiln::compile(kiln::grad(stage_loss_dot()), o);
                  auto gx = std::make_shared<std::vector<float>>(in.x.size()), gy = std::make_shared<std::vector<float>>(in.x.size());
                  emit = [gx, gy, n](Sink& s) {
                    s.put("dot.grad", "gx", *gx, {n});
                    s.put("dot.grad", "gy", *gy, {n});
                  };
                  return Call([g, gx, gy, &in] { g(in.x, in.y, *gx, *gy); });
                },
                [&in](const kiln::Options& o) {
                  auto f = kiln::compile(stage_loss_dot(), o);
                  return Call([f, &in] { volatile float s = f(in.x, in.y); (void)s; });
                }});
  ks.push_back({"stencil.grad",
                [&in](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto g = kiln::compile(kiln::grad(stage_loss_stencil()), o);
                  auto gu = std::make_shared<std::vector<double>>(in.u.size());
                  emit = [gu](Sink& s) { s.put("stencil.grad", "gu", *gu, {kGrid, kGrid}); };
                  return Call([g, gu, &in] { g(in.u, *gu); });
                },
                [&in](const kiln::Options& o) {
                  auto f = kiln::compile(stage_loss_stencil(), o);
                  return Call([f, &in] { volatile double s = f(in.u); (void)s; });
                }});
  ks.push_back({"matmul.grad",
                [&in](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto g = kiln::compile(kiln::grad(stage_loss_matmul()), o);
                  auto ga = std::make_shared<std::vector<float>>(in.A.size()), gb = std::make_shared<std::vector<float>>(in.B.size());
                  emit = [ga, gb](Sink& s) {
                    s.put("matmul.grad", "ga", *ga, {kMat, kMat});
                    s.put("matmul.grad", "gb", *gb, {kMat, kMat});
                  };
                  return Call([g, ga, gb, &in] { g(in.A, in.B, *ga, *gb); });
                },
                [&in](const kiln::Options& o) {
                  auto f = kiln::compile(stage_loss_matmul(), o);
                  return Call([f, &in] { volatile float s = f(in.A, in.B); (void)s; });
                }});
  ks.push_back({"recurrence.grad",
                [](const kiln::Options& o, std::function<void(Sink&)>& emit) {
                  auto g = kiln::compile(kiln::grad(stage_recurrence()), o);
                  auto r = std::make_shared<std::pair<double, double>>();
                  emit = [r](Sink& s) {
                    s.scalar("recurrence.grad", "gx", r->first);
                    s.scalar("recurrence.grad", "ga", r->second);
                  };
                  return Call([g, r] {
                    auto [gx, ga] = g(kRecurX, kRecurA);
                    *r = {gx, ga};
                  });
                },
                [](const kiln::Options& o) {
                  auto f = kiln::compile(stage_recurrence(), o);
                  return Call([f] { volatile double s = f(kRecurX, kRecurA); (void)s; });
                }});
  return ks;
}

std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  std::stringstream in(s);
  for (std::string k; std::getline(in, k, ',');)
    if (!k.empty()) out.insert(k);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kiln_peer WORKDIR [--quick] [--only k1,k2] [--ref-only]\n");
    return 2;
  }
  const fs::path work = argv[1];
  std::set<std::string> only;
  bool ref_only = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") g_quick = true;
    else if (a == "--ref-only") ref_only = true;
    else if (a == "--only" && i + 1 < argc) only = split(argv[++i]);
    else if (a.rfind("--only=", 0) == 0) only = split(a.substr(7));
    else {
      std::fprintf(stderr, "kiln_peer: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  setenv("KILN_DISK_CACHE", "0", 1);
  kiln::runtime::set_thread_count(1);
  try {
    const Inputs in = read_inputs(work);
    const std::vector<Kernel> ks = kernels(in);
    const kiln::Options interp{.backend = kiln::Backend::interp};
    struct System {
      std::string name;
      kiln::Options opts;
      std::string notes;
    };
    const std::vector<System> systems = {
        {"kiln", {.backend = kiln::Backend::llvm}, "Backend::llvm, default Options (exact float semantics: no reassociation, no fma contraction)"},
        {"kiln_fm", {.backend = kiln::Backend::llvm, .fast_math = true},
         "Backend::llvm, Options::fast_math (reassociation, fma contraction, libmvec, GEMM calls for large matmuls)"}};
    std::vector<Results> results;
    for (const System& s : systems) results.push_back({work, s.name, s.notes, {}});
    // LLVM's one-time start (targets, the JIT) on a throw-away kernel, as
    // every peer does, so that it does not land on the first kernel timed.
    if (!ref_only)
      for (const System& s : systems)
        (void)kiln::compile(kiln::stage("warm_up", [](Rep<double> x) { return x * 2.0 + 1.0; }), s.opts)(1.0);
    int failures = 0;
    for (const Kernel& k : ks) {
      if (!only.empty() && !only.count(k.name)) continue;
      // Timings first, while nothing of this kernel is cached in memory.
      if (!ref_only)
        for (size_t si = 0; si < systems.size(); ++si) {
          try {
            std::function<void(Sink&)> emit;
            Call call;
            const double first_ms = seconds_of([&] {
                                      call = k.make(systems[si].opts, emit);
                                      call();
                                    }) * 1e3;
            Sink sink{work, "out/" + systems[si].name + "/", {}};
            emit(sink);
            const double run = median_us(call);
            const double primal = k.primal ? median_us(k.primal(systems[si].opts)) : 0.0;
            results[si].ok(k.name, first_ms, run, sink, primal);
            std::printf("%-8s %-16s first call %8.1f ms  run %10.2f us%s\n", systems[si].name.c_str(), k.name.c_str(), first_ms,
                        run, primal > 0 ? ("  primal " + json_number(primal) + " us").c_str() : "");
          } catch (const std::exception& e) {
            ++failures;
            std::fprintf(stderr, "kiln_peer: %s on %s: %s\n", k.name.c_str(), systems[si].name.c_str(), e.what());
            results[si].not_run(k.name, std::string(e.what()).substr(0, 300));
          }
        }
      // The oracle: Backend::interp, once.
      std::function<void(Sink&)> emit;
      Call call = k.make(interp, emit);
      call();
      Sink ref{work, "ref/", {}};
      emit(ref);
      std::fflush(stdout);
    }
    if (!ref_only)
      for (const Results& r : results) r.write();
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln_peer: %s\n", e.what());
    return 1;
  }
}
