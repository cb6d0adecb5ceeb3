// Backend::cuda and DeviceArray on a GPU: results against the interpreter,
// buffers copied or used in place, overlapping spans, traps, threads. Each
// test WARNs "SKIPPED" and checks nothing on a machine without a device.
#include "backends/cuda/cuda_support.h"
#include "support.h"

#include <cmath>
#include <thread>
#include <vector>

using kiln::Arr;
using kiln::Rep;
using Catch::Matchers::Contains;

namespace {
const kiln::Options cuda{.backend = kiln::Backend::cuda};
}  // namespace

TEST_CASE("gpu: cuda_status names the device and its architecture", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("cuda_status with a device")) return;
  CHECK_THAT(kiln::cuda_status(), Contains("sm_") && Contains("SMs") && Contains("CUDA driver"));
}

TEST_CASE("gpu: a DeviceArray starts zeroed, round-trips host data and moves", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("DeviceArray round trip")) return;
  kiln::DeviceArray<double> zeros(5);
  CHECK(zeros.size() == 5);
  CHECK(zeros.to_host() == std::vector<double>(5, 0.0));

  const std::vector<int32_t> host = {1, -2, 3, INT32_MAX};
  kiln::DeviceArray<int32_t> a{std::span<const int32_t>(host)};
  CHECK(a.to_host() == host);
  std::vector<int32_t> back(4);
  a.copy_to(back);
  CHECK(back == host);
  const std::vector<int32_t> other = {9, 8, 7, 6};
  a.copy_from(other);
  CHECK(a.to_host() == other);
  std::vector<int32_t> small(3);
  CHECK_THROWS_AS(a.copy_to(small), kiln::ShapeError);

  kiln::DeviceArray<int32_t> b = std::move(a);
  CHECK(a.size() == 0);
  CHECK(b.to_host() == other);
  const std::span<const int32_t> view = b;
  CHECK(view.size() == 4);
  CHECK(view.data() == b.device_data());
  CHECK(kiln::DeviceArray<float>(0).to_host().empty());
}

TEST_CASE("gpu: results of every scalar type and host buffers match the interpreter", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("Backend::cuda results")) return;
  auto f = kiln::stage("mix", {"flag", "n", "big", "x", "out"},
                       [](Rep<bool> flag, Rep<int32_t> n, Rep<int64_t> big, Rep<double> x, Arr<float> out) {
                         kiln::parallel_for_(0, out.size(), [&](Rep<int64_t> i) {
                           out[i] = kiln::cast<float>(x) * kiln::cast<float>(i);
                         });
                         Rep<int32_t> wrapped = n * 65536 * 65536 + n;  // wraps
                         return std::make_tuple(!flag, wrapped, big + 1, kiln::sqrt(x), kiln::cast<float>(x) / 3.0f);
                       });
  auto gpu = kiln::compile(f, cuda);
  auto oracle = kiln::compile(f, {.backend = kiln::Backend::interp});
  std::vector<float> out(1000, -1.0f), expect(1000, -1.0f);
  const auto got = gpu(true, 7, INT64_MAX, 2.0, out);
  const auto want = oracle(true, 7, INT64_MAX, 2.0, expect);
  CHECK(got == want);
  CHECK(out == expect);
}

TEST_CASE("gpu: a DeviceArray is used in place; its contents stay on the device between calls", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("DeviceArray in a call")) return;
  auto f = kiln::stage("axpy", {"a", "x", "y"}, [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
  auto run = kiln::compile(f, cuda);
  std::vector<float> hx(100000), hy(100000, 1.0f);
  for (size_t i = 0; i < hx.size(); ++i) hx[i] = static_cast<float>(i) * 0.5f;
  kiln::DeviceArray<float> x{std::span<const float>(hx)}, y{std::span<const float>(hy)};
  run(2.0f, x, y);
  run(3.0f, x, y);
  std::vector<float> expect = hy;
  for (size_t i = 0; i < hx.size(); ++i) {
    expect[i] = 2.0f * hx[i] + expect[i];
    expect[i] = 3.0f * hx[i] + expect[i];
  }
  CHECK(y.to_host() == expect);
  std::vector<float> mixed = hy;  // a host buffer beside a device one
  run(2.0f, x, mixed);
  for (size_t i = 0; i < hx.size(); ++i) CHECK(mixed[i] == 2.0f * hx[i] + hy[i]);
}

TEST_CASE("gpu: host spans that overlap share device memory, as on the CPU", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("overlapping spans")) return;
  // A serial loop (for_, one thread): y[i] = x[i - 1] * 2 + s reads what
  // the iteration before wrote when y and x overlap.
  auto f = kiln::stage("shift", {"x", "y", "s"}, [](Arr<const int64_t> x, Arr<int64_t> y, Rep<int64_t> s) {
    kiln::for_(1, y.size(), [&](Rep<int64_t> i) { y[i] = x[i - 1] * 2 + s; });
  });
  auto run = kiln::compile(f, cuda);
  for (size_t offset : {0, 1, 3}) {
    std::vector<int64_t> a(64), c(64);
    for (size_t i = 0; i < a.size(); ++i) a[i] = c[i] = static_cast<int64_t>(i % 5);
    run(std::span<const int64_t>(a.data(), 40), std::span<int64_t>(a.data() + offset, 40), 1);
    for (size_t i = 1; i < 40; ++i) c[offset + i] = c[i - 1] * 2 + 1;
    CHECK(a == c);
  }
}

TEST_CASE("gpu: a trap in a kernel is a RuntimeError with the interpreter's message", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("traps on the GPU")) return;
  auto f = kiln::stage("div", {"a", "b"}, [](Rep<int64_t> a, Rep<int64_t> b) { return a / b; });
  auto run = kiln::compile(f, cuda);
  CHECK(run(7, -2) == -3);
  CHECK_THAT(kiln::test::error_message<kiln::RuntimeError>([&] { run(1, 0); }),
             Contains("integer division by zero in @div"));
  CHECK(run(9, 3) == 3);  // the flag is cleared for the next call
}

TEST_CASE("gpu: threads may call one kernel at once", "[cuda][gpu]") {
  if (!kiln::test::device_or_skip("threads calling one CUDA kernel")) return;
  auto f = kiln::stage("fill", {"x", "v"}, [](Arr<int64_t> x, Rep<int64_t> v) {
    kiln::parallel_for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = v + i; });
  });
  auto run = kiln::compile(f, cuda);
  std::vector<std::vector<int64_t>> out(8, std::vector<int64_t>(1000));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([&, t] { run(out[static_cast<size_t>(t)], t * 10000); });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 8; ++t)
    for (int64_t i = 0; i < 1000; ++i) CHECK(out[static_cast<size_t>(t)][static_cast<size_t>(i)] == t * 10000 + i);
}
