// The export test's hand-written driver: plain C++17, no kiln. It includes
// the exported headers, calls every exported function (optimised and _O0)
// on the inputs of inputs.h and compares each result and each output
// element, bit for bit, with the interpreter's in expected.h (written by
// kiln_export_programs). Calls the interpreter trapped on must throw
// std::domain_error. Prints every mismatch; exits 1 on any, else prints
// "N checks passed".
#include "calls.h"
#include "calls_O0.h"
#include "collatz.h"
#include "collatz_O0.h"
#include "dot.h"
#include "dot_O0.h"
#include "idiv.h"
#include "idiv_O0.h"
#include "intops32.h"
#include "intops32_O0.h"
#include "intops64.h"
#include "intops64_O0.h"
#include "mathy.h"
#include "mathy_O0.h"
#include "saxpy.h"
#include "saxpy_O0.h"
#include "stats.h"
#include "stats_O0.h"
#include "strided.h"
#include "strided_O0.h"

#include "expected.h"
#include "inputs.h"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

int checks = 0;
int failures = 0;

template <class T>
using bits_t = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;

template <class T>
bits_t<T> bits(T x) {
  if constexpr (std::is_same_v<T, bool>) {
    return x ? 1u : 0u;
  } else {
    bits_t<T> b;
    std::memcpy(&b, &x, sizeof b);
    return b;
  }
}

// The value with bit pattern b, for messages.
template <class T>
std::string show(bits_t<T> b) {
  char buf[96];
  if constexpr (std::is_same_v<T, float>) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    std::snprintf(buf, sizeof buf, "%a (0x%08" PRIx32 ")", static_cast<double>(x), static_cast<uint32_t>(b));
  } else if constexpr (std::is_same_v<T, double>) {
    double x;
    std::memcpy(&x, &b, sizeof x);
    std::snprintf(buf, sizeof buf, "%a (0x%016" PRIx64 ")", x, static_cast<uint64_t>(b));
  } else if constexpr (sizeof(T) == 8) {
    std::snprintf(buf, sizeof buf, "%" PRId64, static_cast<int64_t>(b));
  } else {
    std::snprintf(buf, sizeof buf, "%" PRId32, static_cast<int32_t>(b));
  }
  return buf;
}

template <class T>
void check(const std::string& where, T got, bits_t<T> want) {
  ++checks;
  if (bits(got) == want) return;
  ++failures;
  std::printf("MISMATCH %s: exported code gives %s, the interpreter %s\n", where.c_str(), show<T>(bits(got)).c_str(),
              show<T>(want).c_str());
}

template <class T, size_t N>
void check_all(const std::string& where, const std::vector<T>& got, const bits_t<T> (&want)[N], size_t from = 0,
               size_t count = N) {
  for (size_t i = 0; i < count; ++i) check(where + "[" + std::to_string(i) + "]", got.at(i), want[from + i]);
}

void fail(const std::string& what) {
  ++checks;
  ++failures;
  std::printf("FAILED %s\n", what.c_str());
}

// Runs call(); if the interpreter trapped (`trap`), it must throw
// std::domain_error whose message contains `message`, and then_check is
// skipped.
template <class Call, class Then>
void expect(const std::string& where, bool trap, const char* message, Call call, Then then_check) {
  try {
    call();
  } catch (const std::domain_error& e) {
    if (trap) {
      ++checks;
      if (std::strstr(e.what(), message) == nullptr)
        fail(where + ": the std::domain_error says \"" + e.what() + "\", not \"" + message + "\"");
      return;
    }
    fail(where + ": threw std::domain_error (" + e.what() + "), the interpreter did not trap");
    return;
  } catch (const std::exception& e) {
    fail(where + ": threw an unexpected exception: " + e.what());
    return;
  }
  if (trap) {
    fail(where + ": returned normally, the interpreter trapped (std::domain_error expected)");
    return;
  }
  then_check();
}

template <class T, size_t N>
std::vector<T> vec(const T (&a)[N]) {
  return std::vector<T>(std::begin(a), std::end(a));
}
template <class T, size_t N>
int64_t size(const T (&)[N]) {
  return static_cast<int64_t>(N);
}

using namespace inputs;

template <class F>
void run_saxpy(const std::string& fn, F f) {
  std::vector<float> y = vec(saxpy_y);
  f(saxpy_a, saxpy_x, size(saxpy_x), y.data(), size(saxpy_y));
  check_all(fn + " y", y, expected::saxpy_y);
}

template <class F>
void run_dot(const std::string& fn, F f) {
  check<double>(fn, f(dot_x, size(dot_x), dot_y, size(dot_y)), expected::dot);
}

template <class F>
void run_stats(const std::string& fn, F f) {
  float sum = -1.0f;
  int64_t negatives = -1;
  f(stats_x, size(stats_x), &sum, &negatives);
  check<float>(fn + " sum", sum, expected::stats_sum);
  check<int64_t>(fn + " negatives", negatives, expected::stats_negatives);
}

template <class I, class F, size_t N, size_t M>
void run_intops(const std::string& fn, F f, const I (&a)[N], const I (&b)[N], const bits_t<I> (&want)[M]) {
  static_assert(M == N * kIntOps, "expected.h does not match inputs.h");
  std::vector<I> out(M, I(0x5a5a5a5a));
  f(a, size(a), b, size(b), out.data(), static_cast<int64_t>(out.size()));
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < static_cast<size_t>(kIntOps); ++k)
      check<I>(fn + " a=" + std::to_string(a[i]) + " b=" + std::to_string(b[i]) + " op " + std::to_string(k),
               out[i * kIntOps + k], want[i * kIntOps + k]);
}

template <class F>
void run_idiv(const std::string& fn, F f) {
  for (size_t k = 0; k < std::size(idiv_a); ++k) {
    const std::string where = fn + "(" + std::to_string(idiv_a[k]) + ", " + std::to_string(idiv_b[k]) + ")";
    int64_t q = 0, r = 0;
    expect(where, expected::idiv_traps[k], "integer division by zero", [&] { f(idiv_a[k], idiv_b[k], &q, &r); },
           [&] {
             check<int64_t>(where + " quotient", q, expected::idiv_q[k]);
             check<int64_t>(where + " remainder", r, expected::idiv_r[k]);
           });
  }
  // The trap the test promises: integer division by zero.
  if (!expected::idiv_traps[kIdivOk]) fail(fn + ": the interpreter did not trap on division by zero");
}

template <class F>
void run_collatz(const std::string& fn, F f) {
  for (size_t k = 0; k < std::size(collatz_n); ++k)
    check<int64_t>(fn + "(" + std::to_string(collatz_n[k]) + ")", f(collatz_n[k]), expected::collatz_steps[k]);
}

template <class F>
void run_strided(const std::string& fn, F f) {
  for (size_t c = 0; c < std::size(strided_cases); ++c) {
    const Strided& s = strided_cases[c];
    const std::string where = fn + "(lo=" + std::to_string(s.lo) + ", hi=" + std::to_string(s.hi) +
                              ", step=" + std::to_string(s.step) + ")";
    std::vector<int32_t> out(kStridedOut, 99);
    int64_t sum = -1;
    bool negative = true;
    expect(where, expected::strided_traps[c], "loop step is zero",
           [&] { f(out.data(), kStridedOut, s.lo, s.hi, s.step, s.flag, &sum, &negative); },
           [&] {
             check<int64_t>(where + " sum", sum, expected::strided_sum[c]);
             check<bool>(where + " negative", negative, expected::strided_negative[c]);
             check_all(where + " out", out, expected::strided_out, c * kStridedOut, kStridedOut);
           });
  }
}

template <class F>
void run_calls(const std::string& fn, F f) {
  for (size_t k = 0; k < std::size(calls_n); ++k) {
    const std::string where = fn + "(" + std::to_string(calls_n[k]) + ")";
    std::vector<float> w = vec(calls_x);
    int64_t mixed = -1, fib = -1;
    float sum = -1.0f;
    f(calls_n[k], calls_x, size(calls_x), w.data(), size(calls_x), &mixed, &sum, &fib);
    check<int64_t>(where + " mix", mixed, expected::calls_mix[k]);
    check<float>(where + " rsum", sum, expected::calls_sum[k]);
    check<int64_t>(where + " fibpair", fib, expected::calls_fib[k]);
    check_all(where + " w", w, expected::calls_w, k * std::size(calls_x), std::size(calls_x));
  }
}

template <class F>
void run_mathy(const std::string& fn, F f) {
  const size_t n = std::size(mathy_x);
  std::vector<float> yf(n * kMathF);
  std::vector<double> yd(n * kMathD);
  std::vector<int32_t> yi(n * kMathI);
  std::vector<int64_t> yl(n * kMathL);
  f(mathy_x, size(mathy_x), yf.data(), static_cast<int64_t>(yf.size()), yd.data(), static_cast<int64_t>(yd.size()),
    yi.data(), static_cast<int64_t>(yi.size()), yl.data(), static_cast<int64_t>(yl.size()));
  for (size_t i = 0; i < n; ++i) {
    char x[48];
    std::snprintf(x, sizeof x, "(x=%a)", static_cast<double>(mathy_x[i]));
    for (int k = 0; k < kMathF; ++k)
      check<float>(fn + x + " float result " + std::to_string(k), yf[i * kMathF + k], expected::mathy_yf[i * kMathF + k]);
    for (int k = 0; k < kMathD; ++k)
      check<double>(fn + x + " double result " + std::to_string(k), yd[i * kMathD + k], expected::mathy_yd[i * kMathD + k]);
    for (int k = 0; k < kMathI; ++k)
      check<int32_t>(fn + x + " int32 result " + std::to_string(k), yi[i * kMathI + k], expected::mathy_yi[i * kMathI + k]);
    for (int k = 0; k < kMathL; ++k)
      check<int64_t>(fn + x + " int64 result " + std::to_string(k), yl[i * kMathL + k], expected::mathy_yl[i * kMathL + k]);
  }
}

}  // namespace

int main() {
  run_saxpy("saxpy", saxpy);
  run_saxpy("saxpy_O0", saxpy_O0);
  run_dot("dot", dot);
  run_dot("dot_O0", dot_O0);
  run_stats("stats", stats);
  run_stats("stats_O0", stats_O0);
  run_intops("intops32", intops32, int32_a, int32_b, expected::intops32_out);
  run_intops("intops32_O0", intops32_O0, int32_a, int32_b, expected::intops32_out);
  run_intops("intops64", intops64, int64_a, int64_b, expected::intops64_out);
  run_intops("intops64_O0", intops64_O0, int64_a, int64_b, expected::intops64_out);
  run_idiv("idiv", idiv);
  run_idiv("idiv_O0", idiv_O0);
  run_collatz("collatz", collatz);
  run_collatz("collatz_O0", collatz_O0);
  run_strided("strided", strided);
  run_strided("strided_O0", strided_O0);
  run_calls("calls", calls);
  run_calls("calls_O0", calls_O0);
  run_mathy("mathy", mathy);
  run_mathy("mathy_O0", mathy_O0);

  if (failures > 0) {
    std::printf("%d of %d checks failed\n", failures, checks);
    return 1;
  }
  std::printf("%d checks passed\n", checks);
  return 0;
}
