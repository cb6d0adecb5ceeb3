// The CUDA runtime's call path against a stand-in driver
// (mock_libcuda.cpp, whose "kernels" are host functions registered here):
// parameters in the convention of codegen/emit/cuda.h, host buffers copied
// in and written ones back, device buffers used in place, overlapping spans
// sharing memory, results from the slot arrays, traps, the CUBIN fallback,
// contexts on other threads, DeviceArray, and no device memory left behind.
// The GPU itself is tested by tests/backends/cuda/gpu.cpp where there is one.
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/driver.h"
#include "backends/cuda/program.h"

#include "support.h"

#include <kiln/cuda.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include <dlfcn.h>

using Catch::Matchers::Contains;
using kiln::detail::Slot;
using kiln::emit::CudaModule;
using kiln::ir::Scalar;
using kiln::ir::Type;

namespace {

// Before main, so the first use of the driver finds it: this binary's GPU
// is the mock.
const bool use_mock = [] {
  setenv("KILN_CUDA_DRIVER", KILN_MOCK_LIBCUDA, 1);
  unsetenv("KILN_CUDA_ARCH");
  return true;
}();

// The mock's test controls, from the instance the driver loaded.
template <class F>
F mock(const char* name) {
  static void* const handle = dlopen(KILN_MOCK_LIBCUDA, RTLD_NOW);
  REQUIRE(handle);
  auto f = reinterpret_cast<F>(dlsym(handle, name));
  REQUIRE(f);
  return f;
}

using Kernel = void (*)(void**);
void register_kernel(const char* name, Kernel k) { mock<void (*)(const char*, Kernel)>("kiln_mock_register")(name, k); }
size_t live() { return mock<size_t (*)()>("kiln_mock_live_allocations")(); }

struct Counts {
  int ptx_loads = 0, cubin_loads = 0;
  size_t launches = 0;
  unsigned grid = 0, block = 0;
};
Counts counts() {
  Counts c;
  mock<void (*)(int*, int*, size_t*, unsigned*, unsigned*)>("kiln_mock_counts")(&c.ptx_loads, &c.cubin_loads,
                                                                               &c.launches, &c.grid, &c.block);
  return c;
}

template <class T>
T& param(void** p, size_t i) {
  return *static_cast<T*>(p[i]);
}

Slot scalar(int64_t i) {
  Slot s;
  s.i = i;
  return s;
}
Slot f32(float f) {
  Slot s;
  s.f32 = f;
  return s;
}
Slot f64(double d) {
  Slot s;
  s.f64 = d;
  return s;
}
template <class T>
Slot buffer(std::span<T> b) {
  Slot s;
  s.p = b.data();
  s.size = static_cast<int64_t>(b.size());
  return s;
}

kiln::cuda::Program program(std::vector<kiln::emit::CudaLaunch> launches, std::vector<Type> params,
                            std::vector<kiln::emit::CudaResult> results, size_t ni = 1, size_t nf = 1,
                            std::string source = "", std::string ptx = "// mock PTX\n") {
  CudaModule m{std::move(source), std::move(launches), ni, nf, std::move(results)};
  return kiln::cuda::Program(std::move(m), std::move(ptx), "mock", false, std::move(params));
}

const Type f32_t = Type::scalar(Scalar::f32);
const Type i64_t = Type::scalar(Scalar::i64);

// scale(a, x): x[i] *= a; returns a * 2 (float slot 0). A grid kernel.
void k_scale(void** p) {
  const float a = param<float>(p, 0);
  auto* x = param<float*>(p, 1);
  for (long long i = 0; i < param<long long>(p, 2); ++i) x[i] *= a;
  param<double*>(p, 5)[0] = static_cast<double>(a * 2.0f);
}
const void* seen_pointer = nullptr;
void k_scale_seen(void** p) {
  seen_pointer = param<float*>(p, 1);
  k_scale(p);
}

}  // namespace

TEST_CASE("cuda mock: the stand-in driver is this binary's device", "[cuda][mock]") {
  CHECK(kiln::cuda_device_available());
  CHECK(kiln::cuda_status() == "kiln mock GPU (sm_90, 10 SMs), CUDA driver 13.0");
  CHECK(kiln::cuda::target_arch({}) == "sm_90");
  CHECK(kiln::cuda::target_arch({.cuda_arch = "sm_80"}) == "sm_80");
}

TEST_CASE("cuda mock: a grid launch gets SMs x resident blocks, host buffers go and come back, a result comes "
          "back as float, and no device memory is left",
          "[cuda][mock]") {
  register_kernel("k_scale", k_scale);
  const auto p = program({{"k_scale", true}}, {f32_t, Type::buf(Scalar::f32, true)}, {{true, 0, Scalar::f32}});
  const size_t before = live();
  std::vector<float> x = {1.0f, 2.0f, 3.0f};
  const Slot args[] = {f32(3.0f), buffer(std::span<float>(x))};
  Slot out[1];
  p.run(args, out);
  CHECK(out[0].f32 == 6.0f);
  CHECK(x == std::vector<float>{3.0f, 6.0f, 9.0f});
  const Counts c = counts();
  CHECK(c.grid == 40);  // 10 SMs x 4 blocks of 128
  CHECK(c.block == 128);
  CHECK(live() == before);
}

namespace {
// types(b, i, l, f, d): every scalar type back through the slots.
void k_types(void** p) {
  auto* si = param<long long*>(p, 5);
  auto* sf = param<double*>(p, 7);
  si[0] = param<bool>(p, 0);
  si[1] = param<int32_t>(p, 1);
  si[2] = param<long long>(p, 2);
  sf[0] = param<float>(p, 3);
  sf[1] = param<double>(p, 4);
}
// Two launches in order: the second reads what the first left in a slot.
void k_first(void** p) { param<long long*>(p, 1)[0] = param<long long>(p, 0) * 10; }
void k_second(void** p) { param<long long*>(p, 1)[1] = param<long long*>(p, 1)[0] + 1; }
}  // namespace

TEST_CASE("cuda mock: scalars of every type go in by their exact type and come back through the slots",
          "[cuda][mock]") {
  register_kernel("k_types", k_types);
  const auto p = program({{"k_types", false}},
                         {Type::scalar(Scalar::i1), Type::scalar(Scalar::i32), i64_t, f32_t, Type::scalar(Scalar::f64)},
                         {{false, 0, Scalar::i1}, {false, 1, Scalar::i32}, {false, 2, Scalar::i64},
                          {true, 0, Scalar::f32}, {true, 1, Scalar::f64}},
                         3, 2);
  const Slot args[] = {scalar(1), scalar(-7), scalar(INT64_MIN), f32(0.1f), f64(0.1)};
  Slot out[5];
  p.run(args, out);
  CHECK(kiln::detail::from_slot<bool>(out[0]) == true);
  CHECK(kiln::detail::from_slot<int32_t>(out[1]) == -7);
  CHECK(out[2].i == INT64_MIN);
  CHECK(out[3].f32 == 0.1f);
  CHECK(out[4].f64 == 0.1);
  CHECK(counts().grid == 1);  // serial: one thread
  CHECK(counts().block == 1);

  register_kernel("k_first", k_first);
  register_kernel("k_second", k_second);
  const auto q = program({{"k_first", false}, {"k_second", false}}, {i64_t},
                         {{false, 1, Scalar::i64}, {false, 0, Scalar::i64}}, 2, 1);
  const Slot n[] = {scalar(4)};
  q.run(n, out);
  CHECK(out[0].i == 41);
  CHECK(out[1].i == 40);
}

namespace {
// shift(x, y, s): y[i] = x[i - 1] * 2 + s in order, one thread; notes
// where its buffers are.
uintptr_t x_at = 0, y_at = 0;
void k_shift(void** p) {
  const auto* x = param<const long long*>(p, 0);
  auto* y = param<long long*>(p, 2);
  x_at = reinterpret_cast<uintptr_t>(x);
  y_at = reinterpret_cast<uintptr_t>(y);
  for (long long i = 1; i < param<long long>(p, 3); ++i) y[i] = x[i - 1] * 2 + param<long long>(p, 4);
}
}  // namespace

TEST_CASE("cuda mock: host spans that overlap share device memory and keep their alignment", "[cuda][mock]") {
  register_kernel("k_shift", k_shift);
  const auto p = program({{"k_shift", false}}, {Type::buf(Scalar::i64, false), Type::buf(Scalar::i64, true), i64_t}, {});
  const size_t before = live();
  for (size_t offset : {0, 1, 3, 30, 45}) {
    std::vector<int64_t> a(90), c(90);
    for (size_t i = 0; i < a.size(); ++i) a[i] = c[i] = static_cast<int64_t>(i % 5);
    const Slot args[] = {buffer(std::span<int64_t>(a.data(), 40)), buffer(std::span<int64_t>(a.data() + offset, 40)),
                         scalar(1)};
    p.run(args, nullptr);
    for (size_t i = 1; i < 40; ++i) c[offset + i] = c[i - 1] * 2 + 1;
    INFO("offset " << offset);
    CHECK(a == c);
    if (offset < 40) CHECK(y_at - x_at == offset * sizeof(int64_t));  // one allocation
    CHECK(x_at % 256 == reinterpret_cast<uintptr_t>(a.data()) % 256);
    CHECK(y_at % 256 == reinterpret_cast<uintptr_t>(a.data() + offset) % 256);
  }
  CHECK(live() == before);
}

namespace {
// cheat(r, w): writes a read-only buffer (which must not come back) and a
// writable one.
void k_cheat(void** p) {
  if (param<long long>(p, 1) > 0) param<float*>(p, 0)[0] = -1.0f;
  param<float*>(p, 2)[0] = -2.0f;
}
}  // namespace

TEST_CASE("cuda mock: only writable host buffers are copied back", "[cuda][mock]") {
  register_kernel("k_cheat", k_cheat);
  const auto p = program({{"k_cheat", false}}, {Type::buf(Scalar::f32, false), Type::buf(Scalar::f32, true)}, {});
  std::vector<float> r = {1.0f}, w = {1.0f};
  const Slot args[] = {buffer(std::span<float>(r)), buffer(std::span<float>(w))};
  p.run(args, nullptr);
  CHECK(r[0] == 1.0f);
  CHECK(w[0] == -2.0f);
  std::vector<float> empty;
  const Slot none[] = {buffer(std::span<float>(empty)), buffer(std::span<float>(w))};
  CHECK_NOTHROW(p.run(none, nullptr));  // an empty buffer has no device memory (a null pointer)
}

TEST_CASE("cuda mock: a DeviceArray is passed in place, starts zeroed, round-trips and is freed", "[cuda][mock]") {
  register_kernel("k_scale_seen", k_scale_seen);
  const size_t before = live();
  {
    const std::vector<float> host = {1.0f, 2.0f};
    kiln::DeviceArray<float> x{std::span<const float>(host)};
    CHECK(live() == before + 1);
    const auto p = program({{"k_scale_seen", true}}, {f32_t, Type::buf(Scalar::f32, true)}, {{true, 0, Scalar::f32}});
    const Slot args[] = {f32(2.0f), buffer(std::span<float>(x))};
    Slot out[1];
    p.run(args, out);
    p.run(args, out);
    CHECK(seen_pointer == x.device_data());
    CHECK(x.to_host() == std::vector<float>{4.0f, 8.0f});

    kiln::DeviceArray<double> zeros(3);  // the mock fills fresh memory with 0xab
    CHECK(zeros.to_host() == std::vector<double>(3, 0.0));
    std::vector<double> small(2);
    CHECK_THROWS_AS(zeros.copy_to(small), kiln::ShapeError);
    kiln::DeviceArray<double> moved = std::move(zeros);
    CHECK(zeros.size() == 0);
    CHECK(moved.size() == 3);
    kiln::DeviceArray<int32_t> none(0);
    CHECK(none.device_data() == nullptr);
    CHECK(none.to_host().empty());
  }
  CHECK(live() == before);
  const std::string msg = kiln::test::error_message<kiln::RuntimeError>([] { kiln::DeviceArray<double> huge(size_t{1} << 40); });
  CHECK_THAT(msg, Contains("cuMemAlloc of 8796093022208 bytes") && Contains("CUDA_ERROR_OUT_OF_MEMORY (2)"));
}

namespace {
// div(x, d): traps when d is 0, after writing x[0].
void (*trap)(const char*) = nullptr;
void k_div(void** p) {
  param<float*>(p, 0)[0] = 5.0f;
  if (param<long long>(p, 2) == 0) return trap("integer division by zero in @div (div.cpp:3): guard the divisor");
  param<long long*>(p, 3)[0] = 100 / param<long long>(p, 2);
}
}  // namespace

TEST_CASE("cuda mock: a trap is a RuntimeError with the kernel's message, after the written buffers come back",
          "[cuda][mock]") {
  trap = mock<void (*)(const char*)>("kiln_mock_trap");
  register_kernel("k_div", k_div);
  const auto p = program({{"k_div", false}}, {Type::buf(Scalar::f32, true), i64_t}, {{false, 0, Scalar::i64}});
  const size_t before = live();
  std::vector<float> x = {0.0f};
  const Slot zero[] = {buffer(std::span<float>(x)), scalar(0)};
  Slot out[1];
  const std::string msg = kiln::test::error_message<kiln::RuntimeError>([&] { p.run(zero, out); });
  CHECK(msg == "integer division by zero in @div (div.cpp:3): guard the divisor");
  CHECK(x[0] == 5.0f);
  CHECK(live() == before);
  const Slot four[] = {buffer(std::span<float>(x)), scalar(4)};
  p.run(four, out);  // the flag was cleared
  CHECK(out[0].i == 25);
}

TEST_CASE("cuda mock: PTX the driver rejects is compiled again by NVRTC to a CUBIN for the device", "[cuda][mock]") {
  register_kernel("k_scale", k_scale);
  const std::string source =
      "extern \"C\" __global__ void k_scale(float a, float* x, long long n, long long* si, long long ni, double* sf, "
      "long long nf) { for (long long i = 0; i < n; ++i) x[i] *= a; sf[0] = a * 2.0f; }\n";
  const auto p = program({{"k_scale", true}}, {f32_t, Type::buf(Scalar::f32, true)}, {{true, 0, Scalar::f32}}, 1, 1,
                         source, "// PTX this driver is too old for\n");
  mock<void (*)(bool)>("kiln_mock_reject_ptx")(true);
  const Counts c0 = counts();
  std::vector<float> x = {1.0f};
  const Slot args[] = {f32(2.0f), buffer(std::span<float>(x))};
  Slot out[1];
  p.run(args, out);
  p.run(args, out);  // loaded once
  mock<void (*)(bool)>("kiln_mock_reject_ptx")(false);
  const Counts c1 = counts();
  CHECK(c1.cubin_loads == c0.cubin_loads + 1);
  CHECK(c1.ptx_loads == c0.ptx_loads);
  CHECK(x[0] == 4.0f);
}

TEST_CASE("cuda mock: a launch naming a kernel the module lacks is an InternalError", "[cuda][mock]") {
  const auto p = program({{"k_nowhere", false}}, {}, {});
  const std::string msg = kiln::test::error_message<kiln::InternalError>([&] { p.run(nullptr, nullptr); });
  CHECK_THAT(msg, Contains("k_nowhere") && Contains("@mock"));
}

TEST_CASE("cuda mock: calls and frees from threads that never set a context", "[cuda][mock]") {
  register_kernel("k_scale", k_scale);
  const auto p = program({{"k_scale", true}}, {f32_t, Type::buf(Scalar::f32, true)}, {{true, 0, Scalar::f32}});
  const size_t before = live();
  auto array = std::make_unique<kiln::DeviceArray<float>>(4);
  std::vector<std::vector<float>> xs(6, std::vector<float>(100, 1.0f));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < xs.size(); ++t)
    threads.emplace_back([&, t] {
      const Slot args[] = {f32(static_cast<float>(t)), buffer(std::span<float>(xs[t]))};
      Slot out[1];
      p.run(args, out);
    });
  threads.emplace_back([&] { array.reset(); });  // freed on a thread of its own
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < xs.size(); ++t) CHECK(xs[t] == std::vector<float>(100, static_cast<float>(t)));
  CHECK(live() == before);
}
