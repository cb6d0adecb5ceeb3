// The fixed inputs of the export test, shared by export_programs.cpp (which
// runs kiln's interpreter on them) and driver.cpp (which runs the exported
// code on them). Plain C++17, no kiln.
#pragma once

#include <cstdint>
#include <limits>

namespace inputs {

constexpr float inf_f = std::numeric_limits<float>::infinity();
constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();

// saxpy(a, x, y): y[i] = a * x[i] + y[i]
constexpr float saxpy_a = 1.75f;
constexpr float saxpy_x[] = {1.0f, -2.5f, 0x1.fffffep+127f, 3.0e-39f, 0.1f, -0.0f, 1e20f, 7.0f, 0x1.000002p-1f};
constexpr float saxpy_y[] = {0.5f, 4.375f, 1.0f, -1.0e-39f, 0.2f, 0.0f, -1.75e20f, inf_f, 0x1.fffffep-1f};

// dot(x, y): a double sum of float products
constexpr float dot_x[] = {0.1f, 0.2f, 0.3f, 1e30f, -1e30f, 3.5f, -7.25f, 1e-30f, 123456.789f, -0.0f, 2.0f};
constexpr float dot_y[] = {10.0f, -20.0f, 30.5f, 1e10f, 1e10f, 0.1f, 3.0f, 1e-30f, 0.001f, 5.0f, 0x1.fffffep+127f};

// stats(x) -> (sum of the positive elements, count of the negative ones)
constexpr float stats_x[] = {1.5f, -2.0f, 0.0f, -0.0f, 3.25f, -1e-40f, 1e7f, 1.0f, -inf_f, 0.1f, 0.2f, 0.3f};

// intops32(a, b, out) and intops64(a, b, out): element-wise integer
// operators, kOps results per element. No b is 0.
constexpr int32_t int32_a[] = {7, -7, INT32_MAX, INT32_MIN, INT32_MIN, 12345678, -1, 0, 100, -100, 1 << 30, 77777};
constexpr int32_t int32_b[] = {2, 2, 1, -1, 2, -31, 33, 5, -3, 64, 4, -65536};
constexpr int64_t int64_a[] = {7, -7, INT64_MAX, INT64_MIN, INT64_MIN, INT64_C(1234567890123), -1, 0, 100, -100,
                               INT64_C(1) << 62, INT64_C(-77777777777)};
constexpr int64_t int64_b[] = {2, 2, 1, -1, 2, -63, 65, 5, -3, 128, 4, INT64_C(4294967296)};
constexpr int kIntOps = 16;

// idiv(a, b) -> (a / b, a % b); the last pair divides by zero (a trap).
constexpr int64_t idiv_a[] = {17, -17, INT64_MIN, 5, 42};
constexpr int64_t idiv_b[] = {5, 5, -1, -7, 0};
constexpr int kIdivOk = 4;  // the first kIdivOk pairs do not trap

// collatz(n) -> steps, a data-dependent while_ loop
constexpr int64_t collatz_n[] = {1, 2, 6, 7, 27, 97, 871, INT64_C(837799)};

// strided(out, lo, hi, step, flag) -> sum of the indices visited; writes
// out[k] for each visited index. The last one has a zero step (a trap).
struct Strided {
  int32_t lo, hi, step;
  bool flag;
};
constexpr Strided strided_cases[] = {{0, 10, 3, true}, {10, -5, -4, false}, {5, 5, 2, true},
                                     {-7, 20, 7, false}, {3, 0, 1, true}, {0, 4, 0, true}};
constexpr int kStridedOk = 5;
constexpr int kStridedOut = 16;

// calls(n, x) -> (fib(n) through a recursive static callee, a recursive
// divide-and-conquer sum over x, a recursive pair-returning callee)
constexpr int64_t calls_n[] = {0, 1, 2, 10, 20};
constexpr float calls_x[] = {1.0f, 1e8f, -1e8f, 0.5f, 3.0f, -0.25f, 1e-8f, 2.0f, 0x1.8p+20f, -7.0f};

// mathy(x, yf, yd, yi, yl): math functions and casts per element
constexpr float mathy_x[] = {0.0f,    -0.0f,  0.5f,   -0.5f,  1.0f,  2.5f,   -3.75f,  10.0f, 88.5f,  -100.0f,
                             1e-20f,  3.0e9f, -3.0e9f, 1e20f, inf_f, -inf_f, nan_f,   0.1f,  0.7853982f, 4096.5f};
constexpr int kMathF = 8;  // float results per element
constexpr int kMathD = 4;  // double results per element
constexpr int kMathI = 4;  // int32 results per element
constexpr int kMathL = 4;  // int64 results per element

}  // namespace inputs
