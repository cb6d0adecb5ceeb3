// What Backend::cuda costs to compile, and (on a machine with a GPU) what its
// code runs like. Each figure against a baseline measured in the same run.
//
// Compile latency (no GPU needed: NVRTC makes PTX without one). Subject: the
// fused elementwise chain z[i] = sqrt(fma(x[i], y[i], 1)) * x[i] + y[i] in a
// parallel_for_ over float buffers.
//
//   cold         kiln::stage of a fresh copy (a new name: chain_cold_3, ...;
//                the name is part of the IR hash) plus kiln::compile with
//                Backend::cuda: the pipeline, the CUDA emitter, NVRTC to
//                PTX, storing the PTX in the disk cache (a fresh temporary
//                KILN_CACHE_DIR, removed at the end).
//   restage_hit  kiln::compile of a fresh staging of a program compiled
//                before in this process: pipeline, hash, in-memory hit.
//   disk_hit     a forked child compiles a program another forked child
//                compiled before (same cache directory; neither the parent
//                nor the second child has it in memory): pipeline, hash,
//                reading the PTX from disk. Its baseline is the first
//                child's cold compile.
//
// Run time (a GPU and its driver needed; otherwise the summary says "not
// run" and why): the chain over 2^26 floats in DeviceArrays (no copies),
// against a staged copy kernel y[i] = x[i] over the same buffers, whose
// bytes per second stand for the device's attainable memory bandwidth; the
// figure is the chain's bandwidth (12 bytes per element) as a fraction of
// the copy's (8 bytes per element). Results are checked against the
// interpreter on a slice first.
#include "bench_support.h"

#include <kiln/cuda.h>
#include <kiln/kiln.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace kiln::bench;
using kiln::Arr;
using kiln::Rep;

using ChainSig = void(std::span<const float>, std::span<const float>, std::span<float>);
const kiln::Options kCuda{.backend = kiln::Backend::cuda};

kiln::Staged<ChainSig> stage_chain(const std::string& name) {
  return kiln::stage(name, {"x", "y", "z"}, [](Arr<const float> x, Arr<const float> y, Arr<float> z) {
    kiln::parallel_for_(0, z.size(), [&](Rep<int64_t> i) { z[i] = kiln::sqrt(kiln::fma(x[i], y[i], 1.0f)) * x[i] + y[i]; });
  });
}

kiln::Staged<void(std::span<const float>, std::span<float>)> stage_copy() {
  return kiln::stage("copy", {"x", "y"}, [](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, y.size(), [&](Rep<int64_t> i) { y[i] = x[i]; });
  });
}

// Seconds of one kiln::compile in a forked child (staging excluded); -1 when
// the child failed.
double child_compile_seconds(const std::string& name) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    double s = -1;
    try {
      auto staged = stage_chain(name);
      const auto start = std::chrono::steady_clock::now();
      auto f = kiln::compile(staged, kCuda);
      s = seconds_since(start);
      benchmark::DoNotOptimize(f);
    } catch (...) {
    }
    (void)!write(fds[1], &s, sizeof s);
    _exit(0);
  }
  close(fds[1]);
  double s = -1;
  if (read(fds[0], &s, sizeof s) != static_cast<ssize_t>(sizeof s)) s = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return s;
}

void compile_summary() {
  int fresh = 0;
  auto cold = [&] {
    auto s = stage_chain("chain_cold_" + std::to_string(fresh++));
    benchmark::DoNotOptimize(kiln::compile(s, kCuda));
  };
  kiln::compile(stage_chain("chain_hit"), kCuda);
  auto hit = [&] {
    auto s = stage_chain("chain_hit");
    benchmark::DoNotOptimize(kiln::compile(s, kCuda));
  };
  const std::vector<double> t = median_each(7, {cold, hit}, 0.05);
  std::printf("RESULT cuda_compile_cold ms=%.3f  (staging, pipeline, emitter, NVRTC to PTX, stored on disk)\n", 1e3 * t[0]);
  std::printf("RESULT cuda_compile_restage_hit ms=%.4f ratio=%.4f  (staging, pipeline, hash, in-memory PTX)\n", 1e3 * t[1],
              t[1] / t[0]);
  std::vector<double> first, second;
  for (int r = 0; r < 5; ++r) {
    const std::string name = "chain_disk_" + std::to_string(r);
    first.push_back(child_compile_seconds(name));
    second.push_back(child_compile_seconds(name));
  }
  const double a = median(first), b = median(second);
  if (a <= 0 || b <= 0) die("a child compile failed");
  std::printf("RESULT cuda_compile_disk_hit ms=%.3f cold_in_fresh_process_ms=%.3f ratio=%.4f\n", 1e3 * b, 1e3 * a, b / a);
}

void run_summary() {
  if (!kiln::cuda_device_available()) {
    std::printf("RESULT cuda_run not_run reason=\"%s\"\n", kiln::cuda_status().c_str());
    return;
  }
  std::printf("device: %s\n", kiln::cuda_status().c_str());
  const size_t n = size_t{1} << 26;
  std::vector<float> hx = values<float>(n, 1), hy = values<float>(n, 2);
  for (float& v : hx) v = std::fabs(v);  // 1 + x y > 0: no NaN, whose bits the GPU and the CPU spell differently
  for (float& v : hy) v = std::fabs(v);
  kiln::DeviceArray<float> x{std::span<const float>(hx)}, y{std::span<const float>(hy)}, z(n);
  auto chain = kiln::compile(stage_chain("chain"), kCuda);
  auto copy = kiln::compile(stage_copy(), kCuda);
  // The first 4096 elements against the interpreter (CUDA's sqrt is
  // correctly rounded and fma exact: bit for bit).
  chain(x, y, z);
  const std::vector<float> got = z.to_host();
  const size_t m = 4096;
  std::vector<float> want(m);
  kiln::compile(stage_chain("chain"), {.backend = kiln::Backend::interp})(
      std::span<const float>(hx.data(), m), std::span<const float>(hy.data(), m), std::span<float>(want));
  std::vector<Bits> a, b;
  append(a, want);
  append(b, std::vector<float>(got.begin(), got.begin() + m));
  check_same("chain", "the first 4096 of 2^26 elements", "Backend::interp", a, "Backend::cuda", b);
  const auto [t_chain, t_copy] =
      median_pair(9, [&] { chain(x, y, z); }, [&] { copy(std::span<const float>(x), std::span<float>(z)); }, 0.1);
  const double gbs_chain = 12.0 * n / t_chain / 1e9, gbs_copy = 8.0 * n / t_copy / 1e9;
  std::printf("RESULT cuda_chain_bandwidth_64M chain_ms=%.3f copy_ms=%.3f chain_GBs=%.1f copy_GBs=%.1f ratio=%.4f\n",
              1e3 * t_chain, 1e3 * t_copy, gbs_chain, gbs_copy, gbs_chain / gbs_copy);
}

void BM_compile_restage_hit(benchmark::State& state) {
  kiln::compile(stage_chain("chain_bm"), kCuda);
  for (auto _ : state) benchmark::DoNotOptimize(kiln::compile(stage_chain("chain_bm"), kCuda));
}
BENCHMARK(BM_compile_restage_hit)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  g_program_name = "kiln_bench_cuda";
  if (!kiln::available(kiln::Backend::cuda)) {
    std::printf("Backend::cuda not built (no CUDA toolkit when kiln was configured)\n");
    return 0;
  }
  const bool summary = !take_flag(argc, argv, "--no_summary");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  use_fresh_cache_dir("kiln-bench-cuda-");
  try {
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (summary) {
      compile_summary();
      run_summary();
    }
  } catch (const std::exception& e) {
    die(e.what());
  }
  remove_cache_dir();
  return 0;
}
