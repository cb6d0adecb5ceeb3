// The CUDA emitter's text: launches, slots, the grid-stride loop, and the
// device prelude. (NVRTC and ptxas run on every program in
// tests/backends/cuda; here the text itself is checked.)
#include "codegen/emit/cuda.h"
#include "codegen/passes/pipeline.h"

#include <kiln/ir/parser.h>

#include "support.h"

#include <algorithm>


using kiln::Arr;
using kiln::Rep;

namespace {

kiln::emit::CudaModule cuda(const auto& staged, kiln::emit::CudaOptions opts = {}) {
  return kiln::emit::emit_cuda(staged.module(kiln::Options{}), opts);
}

}  // namespace

TEST_CASE("emitted CUDA: a parallel_for_ is a grid-stride kernel", "[emit][cuda]") {
  auto saxpy = kiln::stage("saxpy", {"a", "x", "y"}, [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
  kiln::emit::CudaModule m = cuda(saxpy);
  REQUIRE(m.launches.size() == 1);
  CHECK(m.launches[0].kernel == "saxpy_0");
  CHECK(m.launches[0].grid);
  CHECK(m.results.empty());
  CHECK_LINES(m.source, {"extern \"C\" __global__ void saxpy_0(float a, const float* x, int64_t x_size, float* y, ",
                         "// parallel_for: the threads share the iterations",
                         "for (uint64_t k0 = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; k0 < n0; k0 += "
                         "uint64_t(blockDim.x) * gridDim.x) {",
                         "y[i0] = t3;"});
}

TEST_CASE("emitted CUDA: serial code around parallel loops, values and results through slots", "[emit][cuda]") {
  kiln::Staged<int64_t(int64_t)> fact;
  fact = kiln::stage("fact", {"n"}, [&](Rep<int64_t> n) {
    return kiln::cond(n <= 1, [&] { return Rep<int64_t>(1); }, [&] { return n * fact(n - 1); });
  });
  auto f = kiln::stage("normalise", {"x", "y"}, [&](Arr<const double> x, Arr<double> y) {
    Rep<double> sum = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { sum += x[i] * x[i]; });
    Rep<double> scale = 1.0 / kiln::sqrt(sum);
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = x[i] * scale; });
    Rep<bool> big = sum > 1.0;
    return std::make_tuple(sum, big, fact(x.size()), Rep<float>(2.5f));
  });
  kiln::emit::CudaModule m = cuda(f);
  REQUIRE(m.launches.size() == 3);
  CHECK_FALSE(m.launches[0].grid);
  CHECK(m.launches[1].grid);
  CHECK_FALSE(m.launches[2].grid);
  REQUIRE(m.results.size() == 4);
  CHECK(m.results[0].floating);
  CHECK_FALSE(m.results[1].floating);
  CHECK(m.results[3].type == kiln::ir::Scalar::f32);
  CHECK_LINES(m.source, {"__device__ int64_t fact(int64_t n);", "extern \"C\" __global__ void normalise_0(",
                         "slots_f[INT64_C(0)] = ", "extern \"C\" __global__ void normalise_1(",
                         "= slots_f[INT64_C(0)];", "extern \"C\" __global__ void normalise_2("});
}

TEST_CASE("emitted CUDA: C-linkage names avoid what cuda_runtime.h declares", "[emit][cuda]") {
  // norm() is CUDA device math with C linkage; sin a C library function.
  for (std::string name : {"norm", "sin", "rsqrtf"}) {
    auto f = kiln::stage(name, [](Rep<double> x) { return x * 2.0; });
    kiln::emit::CudaModule m = cuda(f, {.host_launcher = true});
    INFO(m.source);
    CHECK(m.source.find("extern \"C\" double " + name + "(") == std::string::npos);
    CHECK(m.source.find("extern \"C\" double " + name + "_") != std::string::npos);
  }
}

TEST_CASE("emitted CUDA: tensor temporaries become device buffers the host allocates", "[emit][cuda][tensor]") {
  // An MLP training step: matmuls and reductions need temporaries (alloc).
  const auto step = kiln::test::mlp_training<float>("loss", "step", 16, 2, 8, 3).step;
  kiln::emit::CudaModule m = cuda(step, {.host_launcher = true});
  CHECK(!m.scratch.empty());
  CHECK(kiln::test::count(m.source, "cudaMalloc(&scratch") == m.scratch.size());
  // Every kernel takes the temporaries after the entry's parameters.
  CHECK_LINES(m.source, {"extern \"C\" __global__ void step_0(float* arg0, int64_t arg0_size, ", "float* scratch"});
  std::string why;
  if (!kiln::test::cuda_tools(&why)) {
    WARN("NVRTC and ptxas not checked: " << why);
    return;
  }
  const kiln::test::CudaCheck c = kiln::test::check_cuda(step.module(kiln::Options{}), !kiln::test::sanitized);
  CHECK(!c.refused);
  INFO(c.failure);
  CHECK(c.failure.empty());
}

TEST_CASE("emitted CUDA: a fast_math matmul's gemm op is a plain loop nest that NVRTC and ptxas accept",
          "[emit][cuda][tensor][fast_math]") {
  auto mm = kiln::stage("mm_gemm", [](Arr<const float> a, Arr<const float> b, Arr<float> c) {
    c.store(kiln::matmul(a.tensor({64, 48}), b.tensor({48, 32})));
  });
  const kiln::ir::Module lowered = mm.module(kiln::Options{.fast_math = true});
  REQUIRE(kiln::test::count(mm.ir({.fast_math = true}), " gemm %") == 1);
  kiln::emit::CudaModule m = kiln::emit::emit_cuda(lowered, {});
  CHECK_LINES(m.source, {"for (int64_t gi", "for (int64_t gj", "for (int64_t gp", "+= arg0["});
  std::string why;
  if (!kiln::test::cuda_tools(&why)) {
    WARN("NVRTC and ptxas not checked: " << why);
    return;
  }
  const kiln::test::CudaCheck c = kiln::test::check_cuda(lowered, !kiln::test::sanitized);
  CHECK(!c.refused);
  INFO(c.failure);
  CHECK(c.failure.empty());
}

TEST_CASE("emitted CUDA: disjoint is kiln_disjoint on the device, serial and in a grid kernel, and NVRTC and ptxas "
          "accept it",
          "[emit][cuda][disjoint]") {
  // No staging API makes disjoint: the program is IR text.
  const kiln::ir::Module m = kiln::passes::run_pipeline(kiln::ir::parse(R"(
func @double_if_apart(%x: buf<const f32>, %y: buf<f32>, %flags: buf<const i1>) -> (i1) {
  %zero = const 0 : i64
  %one = const 1 : i64
  %n = size %x : i64
  %d = disjoint %x, %y : i1
  parallel_for %zero, %n, %one {
  ^(%i: i64):
    %apart = disjoint %flags, %y : i1
    %v = load %x[%i] : f32
    %two = const 2.0 : f32
    %w = mul %v, %two : f32
    %u = select %apart, %w, %v : f32
    store %y[%i], %u
    yield
  }
  return %d
}
)", "disjoint.kir"), kiln::Options{.verify_each_pass = true});
  kiln::emit::CudaModule c = kiln::emit::emit_cuda(m, {});
  CHECK(std::any_of(c.launches.begin(), c.launches.end(), [](const auto& l) { return l.grid; }));
  CHECK_LINES(c.source, {"template <class A, class B> __device__ inline bool kiln_disjoint(const A* a, int64_t na, "
                         "const B* b, int64_t nb) {",
                         "const unsigned long long a_begin = (unsigned long long)a, b_begin = (unsigned long long)b;",
                         "= kiln_disjoint(x, x_size, y, y_size);"});
  CHECK(c.source.find("= kiln_disjoint(flags, flags_size, y, y_size);") != std::string::npos);
  std::string why;
  if (!kiln::test::cuda_tools(&why)) {
    WARN("NVRTC and ptxas not checked: " << why);
    return;
  }
  const kiln::test::CudaCheck check = kiln::test::check_cuda(m, !kiln::test::sanitized);
  CHECK(!check.refused);
  INFO(check.failure);
  CHECK(check.failure.empty());
}
