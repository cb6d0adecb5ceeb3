// libtorch's peer in scripts/bench --peers (bench/peers/README.md states the
// kernels, the rules and the results file; peers_common.py the sizes, inputs
// and timing rule, re-implemented here in C++).
//
//   torch_peer WORKDIR [--quick] [--only k1,k2,...]
//
// Reads WORKDIR/inputs (written by peers_common.make_inputs), runs each
// kernel the way a libtorch user writes it (eager tensor ops, autograd for
// the gradients, torch::nn + torch::optim for the MLP steps), and writes
// WORKDIR/results/libtorch.json and WORKDIR/out/libtorch/<kernel>.<out>.npy.
// Depends on libtorch and the standard library only (not on kiln).
//
// libtorch is eager: no tracing, no compiler and no disk cache, so
// first_call_ms is the first call from fresh setup (for the MLPs: creating
// the modules and the optimizer, copying the parameters in, one step).
#include "../openblas_threads.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cxxabi.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

namespace {

namespace F = torch::nn::functional;
using torch::Tensor;
using torch::indexing::None;
using torch::indexing::Slice;

// --- the kernels' sizes and constants (as in peers_common.py) -----------------------------
constexpr double kSaxpyA = 2.5;
constexpr int64_t kMandelW = 256, kMandelH = 256, kMandelMaxIter = 256;
constexpr double kMandelX0 = -2.0, kMandelY0 = -1.5, kMandelStep = 3.0 / 256;
constexpr double kRecurX = 0.3, kRecurA = 0.9;
constexpr int kRecurSteps = 1000;

struct MlpSpec {
  std::string name;
  std::vector<int64_t> widths;
  bool relu;  // else tanh
  double lr;
};
const MlpSpec kMlpLarge{"mlp_large", {784, 128, 10}, true, 0.1};
const MlpSpec kMlpSmall{"mlp_small", {2, 64, 64, 3}, false, 0.1};

// peers_common.OUTPUTS, in its order.
const std::vector<std::pair<std::string, std::vector<std::string>>> kOutputs = {
    {"saxpy", {"z"}},
    {"chain", {"z"}},
    {"dot", {"s"}},
    {"stencil", {"v"}},
    {"mandel", {"count"}},
    {"recurrence", {"s"}},
    {"matmul", {"c"}},
    {"mlp_large", {"loss", "W0", "b0", "W1", "b1"}},
    {"mlp_small", {"loss", "W0", "b0", "W1", "b1", "W2", "b2"}},
    {"chain.grad", {"gx"}},
    {"dot.grad", {"gx", "gy"}},
    {"stencil.grad", {"gu"}},
    {"matmul.grad", {"ga", "gb"}},
    {"recurrence.grad", {"gx", "ga"}},
};

// --- .npy files (format 1.0 as peers_common.write_npy writes them; reads 1.0 and 2.0) -------

Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error(path + ": not a .npy file");
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(raw[i])); };
  size_t hlen, start;
  if (byte(6) == 1) {
    hlen = byte(8) | byte(9) << 8;
    start = 10;
  } else {
    hlen = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    start = 12;
  }
  const std::string header = raw.substr(start, hlen);
  const auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "':");
    if (k == std::string::npos) throw std::runtime_error(path + ": no '" + key + "' in the header");
    return k + key.size() + 3;
  };
  size_t d = header.find('\'', field("descr"));
  const std::string descr = header.substr(d + 1, header.find('\'', d + 1) - d - 1);
  if (header.compare(header.find_first_not_of(' ', field("fortran_order")), 5, "False") != 0)
    throw std::runtime_error(path + ": Fortran order");
  size_t s = header.find('(', field("shape")) + 1;
  std::vector<int64_t> shape;
  for (size_t e = header.find(')', s); s < e;) {
    const size_t comma = std::min(header.find(',', s), e);
    const std::string num = header.substr(s, comma - s);
    if (num.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(num));
    s = comma + 1;
  }
  torch::Dtype dtype;
  if (descr == "<f4") dtype = torch::kFloat32;
  else if (descr == "<f8") dtype = torch::kFloat64;
  else if (descr == "<i4") dtype = torch::kInt32;
  else throw std::runtime_error(path + ": dtype " + descr + " is not one of <f4 <f8 <i4");
  Tensor t = torch::empty(shape, dtype);
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (raw.size() - start - hlen != bytes)
    throw std::runtime_error(path + ": " + std::to_string(raw.size() - start - hlen) + " bytes for its shape");
  std::memcpy(t.data_ptr(), raw.data() + start + hlen, bytes);
  return t;
}

// What numpy.save writes for f32, f64 and i32 (other integers as i32, other floats as f64,
// as peers_common.Results does), with write_npy's header layout.
void write_npy(const std::string& path, Tensor t) {
  t = t.detach().cpu();
  if (t.scalar_type() != torch::kFloat32 && t.scalar_type() != torch::kFloat64 && t.scalar_type() != torch::kInt32)
    t = t.to(torch::isFloatingType(t.scalar_type()) ? torch::kFloat64 : torch::kInt32);
  t = t.contiguous();
  const char* descr = t.scalar_type() == torch::kFloat32 ? "<f4" : t.scalar_type() == torch::kFloat64 ? "<f8" : "<i4";
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                 static_cast<unsigned char>(header.size() >> 8)};
  f.write(reinterpret_cast<const char*>(pre), 10);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  if (!f) throw std::runtime_error(path + ": write failed");
}

// --- timing (peers_common.first_call_ms and median_us) ---------------------------------------

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double first_call_ms(const std::function<void()>& build_and_run) {
  const auto t0 = Clock::now();
  build_and_run();
  return seconds_since(t0) * 1e3;
}

struct Timing {
  double min_seconds = 0.5;
  size_t min_samples = 15, max_samples = 2000;
};

// The median of call()'s time in microseconds; calls under ~100 us timed in batches
// (one sample = the mean of a batch). Every libtorch CPU op returns with its result ready.
double median_us(const std::function<void()>& call, const Timing& t) {
  call();  // warm
  auto t0 = Clock::now();
  call();
  const double one = std::max(seconds_since(t0), 1e-9);
  const int64_t batch = std::max<int64_t>(1, static_cast<int64_t>(1e-4 / one));
  std::vector<double> samples;
  const auto start = Clock::now();
  while (samples.size() < t.max_samples && (samples.size() < t.min_samples || seconds_since(start) < t.min_seconds)) {
    t0 = Clock::now();
    for (int64_t i = 0; i < batch; ++i) call();
    samples.push_back(seconds_since(t0) / static_cast<double>(batch));
  }
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return (n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2) * 1e6;  // statistics.median
}

// --- the results file (peers_common.Results: json.dump(indent=1, sort_keys=True)) ------------

struct Json {
  std::string scalar;                           // rendered JSON, when obj is null
  std::shared_ptr<std::map<std::string, Json>> obj;  // std::map: keys sorted
  static Json object() { return {"", std::make_shared<std::map<std::string, Json>>()}; }
  Json& operator[](const std::string& k) { return (*obj)[k]; }
};

Json jstr(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += {'\\', static_cast<char>(c)};
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return {out + "\"", nullptr};
}

Json jnum(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip, like Python's repr
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return {s, nullptr};
}

void dump(std::string& out, const Json& v, int depth) {
  if (!v.obj) {
    out += v.scalar;
    return;
  }
  if (v.obj->empty()) {
    out += "{}";
    return;
  }
  out += "{";
  bool first = true;
  for (const auto& [k, x] : *v.obj) {
    out += (first ? "\n" : ",\n") + std::string(depth + 1, ' ') + jstr(k).scalar + ": ";
    dump(out, x, depth + 1);
    first = false;
  }
  out += "\n" + std::string(depth, ' ') + "}";
}

struct Results {
  std::string workdir, system = "libtorch";
  Json data = Json::object();

  using Outputs = std::vector<std::pair<std::string, Tensor>>;

  void ok(const std::string& kernel, double first_ms, double run_us, const Outputs& outputs, double primal_us = -1) {
    const auto spec = std::find_if(kOutputs.begin(), kOutputs.end(), [&](const auto& o) { return o.first == kernel; });
    if (spec == kOutputs.end()) throw std::runtime_error("unknown kernel " + kernel);
    Json files = Json::object();
    for (const auto& [name, value] : outputs) {
      const std::string rel = "out/" + system + "/" + kernel + "." + name + ".npy";
      write_npy(workdir + "/" + rel, value);
      files[name] = jstr(rel);
    }
    for (const std::string& name : spec->second)
      if (!files.obj->count(name)) throw std::runtime_error(kernel + ": output " + name + " missing");
    Json e = Json::object();
    e["status"] = jstr("ok");
    e["first_call_ms"] = jnum(first_ms);
    e["run_us"] = jnum(run_us);
    e["outputs"] = files;
    if (primal_us >= 0) e["primal_us"] = jnum(primal_us);
    data["kernels"][kernel] = e;
  }

  void not_run(const std::string& kernel, const std::string& reason) {
    Json e = Json::object();
    e["status"] = jstr("not run");
    e["reason"] = jstr(reason);
    data["kernels"][kernel] = e;
  }

  std::string write() {
    const std::string path = workdir + "/results/" + system + ".json";
    std::filesystem::create_directories(workdir + "/results");
    std::string out;
    dump(out, data, 0);
    std::ofstream(path) << out;
    return path;
  }
};

// Everything a kernel needs: its inputs, the timing rule, the results.
struct Ctx {
  std::string workdir;
  Timing timing;
  Results& results;
  Tensor in(const std::string& name) const { return read_npy(workdir + "/inputs/" + name + ".npy"); }
  double time(const std::function<void()>& call) const { return median_us(call, timing); }
};

// A gradient kernel: the gradients of loss() with respect to wrt (first call and run_us)
// and loss() alone without autograd's bookkeeping (primal_us).
void grad_kernel(Ctx& c, const std::string& kernel, const std::vector<std::string>& names,
                 const std::vector<Tensor>& wrt, const std::function<Tensor()>& loss) {
  std::vector<Tensor> g;
  const double first = first_call_ms([&] { g = torch::autograd::grad({loss()}, wrt); });
  const double run = c.time([&] { torch::autograd::grad({loss()}, wrt); });
  const double primal = c.time([&] {
    torch::NoGradGuard no_grad;
    loss();
  });
  Results::Outputs out;
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], g[i]);
  c.results.ok(kernel, first, run, out, primal);
}

// A primal kernel: f() once from fresh (first_call_ms, its result the output), then timed.
void primal_kernel(Ctx& c, const std::string& kernel, const std::string& name, const std::function<Tensor()>& f) {
  Tensor out;
  const double first = first_call_ms([&] { out = f(); });
  const double run = c.time([&] { f(); });
  c.results.ok(kernel, first, run, {{name, out}});
}

// --- the kernels (README table) ------------------------------------------------------------

Tensor chain(const Tensor& x, const Tensor& y) {
  // addcmul(s, a, b) = s + a·b in one kernel (no fma): sqrt(x·y + 1)·x + y in three ops, not five.
  return torch::addcmul(y, torch::sqrt(torch::addcmul(torch::ones({}, x.options()), x, y)), x);
}

Tensor stencil(const Tensor& u) {
  const Slice in(1, -1);
  const Tensor inner = 0.5 * u.index({in, in}) + 0.125 * (u.index({in, Slice(None, -2)}) + u.index({in, Slice(2, None)}) +
                                                          u.index({Slice(None, -2), in}) + u.index({Slice(2, None), in}));
  return F::pad(inner, F::PadFuncOptions({1, 1, 1, 1}));  // zero border rows and columns
}

// Vectorised over the whole grid with masks, as a torch user writes it: each step updates the
// pixels still active and stops when none is (one .item() sync per step).
Tensor mandel() {
  const auto f64 = torch::dtype(torch::kFloat64);
  const Tensor cr = kMandelX0 + torch::arange(kMandelW, f64) * kMandelStep;                // [w], broadcast over rows
  const Tensor ci = (kMandelY0 + torch::arange(kMandelH, f64) * kMandelStep).unsqueeze(1);  // [h, 1]
  Tensor zr = torch::zeros({kMandelH, kMandelW}, f64), zi = torch::zeros({kMandelH, kMandelW}, f64);
  Tensor count = torch::zeros({kMandelH, kMandelW}, torch::kInt32);
  for (int64_t k = 0; k < kMandelMaxIter; ++k) {
    const Tensor zr2 = zr * zr, zi2 = zi * zi;
    const Tensor active = zr2 + zi2 <= 4.0;
    if (!active.any().item<bool>()) break;
    const Tensor t = zr2 - zi2 + cr;
    zi = torch::where(active, 2.0 * zr * zi + ci, zi);
    zr = torch::where(active, t, zr);
    count += active;
  }
  return count;
}

// Eager scalar-tensor loop: 3 ops (sin, mul, add) + 0.1·x per step, each dispatched.
Tensor recurrence(const Tensor& x, const Tensor& a) {
  Tensor s = x;
  for (int i = 0; i < kRecurSteps; ++i) s = torch::sin(s) * a + 0.1 * x;
  return s;
}

void k_saxpy(Ctx& c) {
  const Tensor x = c.in("x"), y = c.in("y");
  primal_kernel(c, "saxpy", "z", [&] { return torch::add(y, x, kSaxpyA); });  // y + a·x: one kernel (alpha)
}

void k_chain(Ctx& c) {
  const Tensor x = c.in("x"), y = c.in("y");
  primal_kernel(c, "chain", "z", [&] { return chain(x, y); });
}

void k_dot(Ctx& c) {
  const Tensor x = c.in("x"), y = c.in("y");
  primal_kernel(c, "dot", "s", [&] { return torch::dot(x, y); });  // BLAS sdot (OpenBLAS), no x·y temporary
}

void k_stencil(Ctx& c) {
  const Tensor u = c.in("u");
  primal_kernel(c, "stencil", "v", [&] { return stencil(u); });
}

void k_mandel(Ctx& c) { primal_kernel(c, "mandel", "count", [&] { return mandel(); }); }

void k_recurrence(Ctx& c) {
  const Tensor x = torch::tensor(kRecurX, torch::kFloat64), a = torch::tensor(kRecurA, torch::kFloat64);
  primal_kernel(c, "recurrence", "s", [&] { return recurrence(x, a); });
}

void k_matmul(Ctx& c) {
  const Tensor A = c.in("A"), B = c.in("B");
  primal_kernel(c, "matmul", "c", [&] { return torch::matmul(A, B); });  // OpenBLAS sgemm
}

// One SGD step as torch.cpp (and every tutorial) writes it: Sequential of Linear layers,
// cross_entropy (mean), backward, optim::SGD. W inputs are [in, out]; Linear's weight is [out, in].
void k_mlp(Ctx& c, const MlpSpec& spec) {
  const size_t layers = spec.widths.size() - 1;
  std::vector<Tensor> W, b;
  for (size_t l = 0; l < layers; ++l) {
    W.push_back(c.in(spec.name + ".W" + std::to_string(l)));
    b.push_back(c.in(spec.name + ".b" + std::to_string(l)));
  }
  const Tensor x = c.in(spec.name + ".x"), labels32 = c.in(spec.name + ".labels");

  torch::nn::Sequential net;
  std::vector<torch::nn::Linear> linear;
  std::unique_ptr<torch::optim::SGD> opt;
  Tensor labels;
  auto build = [&] {
    for (size_t l = 0; l < layers; ++l) {
      linear.emplace_back(torch::nn::LinearOptions(spec.widths[l], spec.widths[l + 1]));
      net->push_back(linear.back());
      if (l + 1 < layers) {
        if (spec.relu) net->push_back(torch::nn::ReLU());
        else net->push_back(torch::nn::Tanh());
      }
      torch::NoGradGuard no_grad;
      linear[l]->weight.copy_(W[l].t());
      linear[l]->bias.copy_(b[l]);
    }
    opt = std::make_unique<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(spec.lr));
    labels = labels32.to(torch::kInt64);  // cross_entropy's class indices are int64
  };
  auto step = [&] {
    opt->zero_grad();
    Tensor loss = F::cross_entropy(net->forward(x), labels);
    loss.backward();
    opt->step();
    return loss;
  };
  Tensor loss0;
  const double first = first_call_ms([&] {
    build();
    loss0 = step();
  });
  Results::Outputs out = {{"loss", loss0.detach().clone()}};
  for (size_t l = 0; l < layers; ++l) {
    out.emplace_back("W" + std::to_string(l), linear[l]->weight.detach().t().contiguous().clone());
    out.emplace_back("b" + std::to_string(l), linear[l]->bias.detach().clone());
  }
  const double run = c.time([&] { step(); });  // parameters keep changing, as in training
  c.results.ok(spec.name, first, run, out);
}

void k_chain_grad(Ctx& c) {
  const Tensor x = c.in("x").requires_grad_(true), y = c.in("y");
  grad_kernel(c, "chain.grad", {"gx"}, {x}, [&] { return chain(x, y).sum(); });
}

void k_dot_grad(Ctx& c) {
  const Tensor x = c.in("x").requires_grad_(true), y = c.in("y").requires_grad_(true);
  grad_kernel(c, "dot.grad", {"gx", "gy"}, {x, y}, [&] { return torch::dot(x, y); });
}

void k_stencil_grad(Ctx& c) {
  const Tensor u = c.in("u").requires_grad_(true);
  grad_kernel(c, "stencil.grad", {"gu"}, {u}, [&] { return stencil(u).square().sum(); });
}

void k_matmul_grad(Ctx& c) {
  const Tensor A = c.in("A").requires_grad_(true), B = c.in("B").requires_grad_(true);
  grad_kernel(c, "matmul.grad", {"ga", "gb"}, {A, B}, [&] { return torch::matmul(A, B).square().sum(); });
}

void k_recurrence_grad(Ctx& c) {
  const Tensor x = torch::tensor(kRecurX, torch::dtype(torch::kFloat64).requires_grad(true));
  const Tensor a = torch::tensor(kRecurA, torch::dtype(torch::kFloat64).requires_grad(true));
  grad_kernel(c, "recurrence.grad", {"gx", "ga"}, {x, a}, [&] { return recurrence(x, a); });
}

const std::vector<std::pair<std::string, std::function<void(Ctx&)>>> kKernels = {
    {"saxpy", k_saxpy},
    {"chain", k_chain},
    {"dot", k_dot},
    {"stencil", k_stencil},
    {"mandel", k_mandel},
    {"recurrence", k_recurrence},
    {"matmul", k_matmul},
    {"mlp_large", [](Ctx& c) { k_mlp(c, kMlpLarge); }},
    {"mlp_small", [](Ctx& c) { k_mlp(c, kMlpSmall); }},
    {"chain.grad", k_chain_grad},
    {"dot.grad", k_dot_grad},
    {"stencil.grad", k_stencil_grad},
    {"matmul.grad", k_matmul_grad},
    {"recurrence.grad", k_recurrence_grad},
};

// --- main ------------------------------------------------------------------------------------

// peers_common.run_guarded: an exception becomes 'not run' with "<type>: <first line>" (300 chars).
void run_guarded(Ctx& c, const std::string& kernel, const std::function<void(Ctx&)>& fn) {
  try {
    fn(c);
  } catch (const std::exception& e) {
    int status = 0;
    char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
    const auto* ce = dynamic_cast<const c10::Error*>(&e);
    std::string msg = std::string(status == 0 && name ? name : typeid(e).name()) + ": " +
                      (ce ? ce->what_without_backtrace() : e.what());
    std::free(name);
    msg = msg.substr(0, msg.find('\n')).substr(0, 300);
    std::fprintf(stderr, "libtorch: %s failed: %s\n", kernel.c_str(), msg.c_str());
    c.results.not_run(kernel, msg);
  }
}

using kiln_bench::set_openblas_threads;  // bench/openblas_threads.h

int usage() {
  std::fprintf(stderr, "usage: torch_peer WORKDIR [--quick] [--only k1,k2,...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  Results results;
  results.workdir = argv[1];
  Timing timing;
  std::vector<std::string> only;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      timing.min_seconds = 0.05;
      timing.min_samples = 3;
    } else if (a == "--only" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      for (std::string k; std::getline(ss, k, ',');)
        if (!k.empty()) only.push_back(k);
    } else return usage();
  }
  for (const std::string& k : only)
    if (std::none_of(kKernels.begin(), kKernels.end(), [&](const auto& p) { return p.first == k; })) {
      std::fprintf(stderr, "torch_peer: unknown kernel %s\n", k.c_str());
      return 2;
    }
  if (!std::filesystem::exists(results.workdir + "/inputs/done")) {
    std::fprintf(stderr, "torch_peer: no inputs in %s/inputs (run peers_common.make_inputs first)\n", argv[1]);
    return 2;
  }

  // One thread (README "Threads"): intra-op (OpenMP), inter-op (only before first use), OpenBLAS.
  at::set_num_interop_threads(1);
  torch::set_num_threads(1);
  const int blas = set_openblas_threads(1);
  results.data["system"] = jstr(results.system);
  results.data["version"] = jstr(TORCH_VERSION);
  results.data["threads"] = {"1", nullptr};
  results.data["notes"] = jstr(
      "libtorch C++ API, eager (no JIT, no disk cache); torch::set_num_threads(1), at::set_num_interop_threads(1), "
      "OpenBLAS threads " +
      (blas ? std::to_string(blas) : std::string("n/a (OpenBLAS not loaded)")) +
      "; first_call_ms = first call from fresh tensors/modules");
  results.data["kernels"] = Json::object();

  Ctx ctx{results.workdir, timing, results};
  for (const auto& [name, fn] : kKernels) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    run_guarded(ctx, name, fn);
  }
  const std::string path = results.write();
  std::printf("libtorch: wrote %s\n", path.c_str());
  return 0;
}
