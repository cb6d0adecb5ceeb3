// The scratch cache behind compiled code's large temporaries
// (backends/runtime/scratch.h): blocks come back 64-byte aligned, a freed
// block is handed out again for the same size on the same thread, the
// cache stays within its limit, and a compiled kernel with temporaries
// above the stack limit returns its blocks to the cache at every call.
#include "backends/runtime/scratch.h"

#include <kiln/kiln.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <thread>
#include <vector>

namespace runtime = kiln::runtime;

TEST_CASE("scratch: blocks are aligned and reused by size on their thread; the cache keeps to its limit",
          "[runtime][scratch]") {
  std::thread([] {  // a thread of its own: an empty cache, freed at its exit
    void* a = kiln_rt_scratch_alloc(100000);
    REQUIRE(a != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
    kiln_rt_scratch_free(a, 100000);
    CHECK(runtime::scratch_cached_bytes() == 100032);  // rounded up to 64 bytes
    void* other = kiln_rt_scratch_alloc(200000);      // another size: a new block
    CHECK(other != a);
    CHECK(kiln_rt_scratch_alloc(100000) == a);        // the same size: the block again
    CHECK(runtime::scratch_cached_bytes() == 0);
    kiln_rt_scratch_free(a, 100000);
    kiln_rt_scratch_free(other, 200000);
    CHECK(runtime::scratch_cached_bytes() == 100032 + 200000);

    // Past the limit the oldest blocks go first; a block above it is not kept.
    const uint64_t big = runtime::scratch_cache_limit / 2 + 64;  // two do not fit
    void* b1 = kiln_rt_scratch_alloc(big);
    void* b2 = kiln_rt_scratch_alloc(big);
    REQUIRE((b1 && b2));
    kiln_rt_scratch_free(b1, big);
    kiln_rt_scratch_free(b2, big);
    CHECK(runtime::scratch_cached_bytes() == big);  // b1 evicted b2's way in, with the small ones
    CHECK(kiln_rt_scratch_alloc(big) == b2);
    kiln_rt_scratch_free(b2, big);
    void* huge = kiln_rt_scratch_alloc(runtime::scratch_cache_limit + 64);
    REQUIRE(huge != nullptr);
    kiln_rt_scratch_free(huge, runtime::scratch_cache_limit + 64);
    CHECK(runtime::scratch_cached_bytes() == big);
    kiln_rt_scratch_free(nullptr, 10);  // a null block is ignored
    CHECK(runtime::scratch_cached_bytes() == big);
  }).join();
}

#ifdef KILN_HAVE_LLVM
TEST_CASE("scratch: a compiled kernel's temporaries above the stack limit come from the cache and go back to it",
          "[runtime][scratch][llvm]") {
  // p = 2x is a 128x128 float temporary (64 KiB) read by the matmul, and
  // q = p^T p another; together they are above what one function puts on
  // its stack.
  auto f = kiln::stage("scratch_user", {"x", "y"}, [](kiln::Arr<const float> x, kiln::Arr<float> y) {
    kiln::Tensor<float> p = x.tensor({128, 128}) * 2.0f;
    kiln::Tensor<float> q = kiln::matmul(p.transpose(), p);
    kiln::Tensor<float> r = kiln::matmul(q, p) + kiln::matmul(p, q);
    y.store(kiln::matmul(r.transpose(), q) + kiln::matmul(q, r));
  });
  std::vector<float> x(128 * 128), want(x.size()), got(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.01f - 0.03f;
  kiln::compile(f, {.backend = kiln::Backend::interp})(std::span<const float>(x), std::span<float>(want));
  auto run = kiln::compile(f, {.backend = kiln::Backend::llvm});
  std::thread([&] {
    CHECK(runtime::scratch_cached_bytes() == 0);
    run(std::span<const float>(x), std::span<float>(got));
    const uint64_t held = runtime::scratch_cached_bytes();
    CHECK(held >= 65536);  // at least one block came back
    CHECK(got == want);
    std::fill(got.begin(), got.end(), 0.0f);
    run(std::span<const float>(x), std::span<float>(got));  // the same blocks again
    CHECK(runtime::scratch_cached_bytes() == held);
    CHECK(got == want);
  }).join();
}
#endif
