// Stages the export test's programs, writes each one's exported source and
// header, and writes expected.h: kiln's interpreter results on the fixed
// inputs of inputs.h, every scalar result and every output element as a bit
// pattern. driver.cpp (plain C++17, no kiln) runs the exported code on the
// same inputs and compares.
//
//   kiln_export_programs OUT_DIR
//
// Each program is also exported as CUDA (<name>.cu, export.nvcc).
//
// Each program is exported twice: after the default pipeline as <name>.cpp,
// and unoptimised ({.optimize = false}: calls not inlined, no folding) as
// <name>_O0.cpp, so the emitter sees both shapes of the IR. Both must give
// the interpreter's results.
#include <kiln/kiln.h>

#include "inputs.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using kiln::Arr;
using kiln::Rep;

namespace {

// --- the programs ------------------------------------------------------------------
// Each maker stages its program under `name` (callees under their own
// names: they become static functions of the exported file).

auto make_saxpy(const std::string& name) {
  return kiln::stage(name, {"a", "x", "y"}, [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
}

auto make_dot(const std::string& name) {
  return kiln::stage(name, {"x", "y"}, [](Arr<const float> x, Arr<const float> y) {
    Rep<double> acc = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { acc += kiln::cast<double>(x[i]) * y[i]; });
    return acc;
  });
}

// Two results: out-pointers in the exported signature.
auto make_stats(const std::string& name) {
  return kiln::stage(name, {"x"}, [](Arr<const float> x) {
    Rep<float> sum = 0.0f;
    Rep<int64_t> negatives = 0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      Rep<float> v = x[i];
      kiln::if_(v > 0.0f, [&] { sum += v; });
      kiln::if_(v < 0.0f, [&] { negatives += 1; });
    });
    return std::make_tuple(sum, negatives);
  });
}

// Integer operators element by element, inputs::kIntOps results each:
// wraparound, division (MIN / -1), shifts with counts out of range, bit
// operations, constant divisors.
template <class I>
auto make_intops(const std::string& name) {
  return kiln::stage(name, {"a", "b", "out"}, [](Arr<const I> a, Arr<const I> b, Arr<I> out) {
    kiln::for_(0, a.size(), [&](Rep<int64_t> i) {
      Rep<I> x = a[i], y = b[i];
      Rep<int64_t> at = i * inputs::kIntOps;
      out[at + 0] = x + y;
      out[at + 1] = x - y;
      out[at + 2] = x * y;
      out[at + 3] = x / y;
      out[at + 4] = x % y;
      out[at + 5] = x << y;
      out[at + 6] = x >> y;
      out[at + 7] = (x & y) ^ (x | 0x55);
      out[at + 8] = -x;
      out[at + 9] = kiln::abs(x);
      out[at + 10] = kiln::min(x, y) * 3 - kiln::max(x, y);
      out[at + 11] = ~x;
      out[at + 12] = x * 1000003 + 12345;
      out[at + 13] = x / 7 + x % -3 + x / -1;
      out[at + 14] = kiln::select(x < y, x >> 3, y << 2);
      out[at + 15] = kiln::cast<I>(x == y) + kiln::cast<I>(x >= y) * 2 + kiln::cast<I>(x != 0 && y > 0) * 4;
    });
  });
}

auto make_idiv(const std::string& name) {
  return kiln::stage(name, {"a", "b"}, [](Rep<int64_t> a, Rep<int64_t> b) {
    Rep<int64_t> q = a / b;  // staged first: b == 0 traps here, as a division
    Rep<int64_t> r = a % b;
    return std::make_tuple(q, r);
  });
}

auto make_collatz(const std::string& name) {
  return kiln::stage(name, {"n"}, [](Rep<int64_t> n) {
    Rep<int64_t> steps = 0;
    kiln::while_([&] { return n != 1; },
                 [&] {
                   kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
                   steps += 1;
                 });
    return steps;
  });
}

// An int32 loop with a run-time step (a trip count, a zero step traps), a
// bool parameter and result, a parallel_for_.
auto make_strided(const std::string& name) {
  return kiln::stage(name, {"out", "lo", "hi", "step", "flag"},
                     [](Arr<int32_t> out, Rep<int32_t> lo, Rep<int32_t> hi, Rep<int32_t> step, Rep<bool> flag) {
                       Rep<int64_t> sum = 0, k = 0;
                       Rep<bool> negative = false;
                       kiln::for_(lo, hi, step, [&](Rep<int32_t> i) {
                         out[k] = kiln::select(flag, i * 2, -i);
                         sum += i;
                         k += 1;
                         kiln::if_(i < 0, [&] { negative = true; });
                       });
                       kiln::parallel_for_(k, out.size(), [&](Rep<int64_t> j) { out[j] = kiln::cast<int32_t>(j) * -1; });
                       return std::make_tuple(sum, negative);
                     });
}

// Staged callees: recursive ones (static functions in every export), a
// tuple-returning one, one taking a buffer, a void one writing a buffer, and
// a plain one called twice (inlined after optimisation, a static function
// in the _O0 export).
auto make_calls(const std::string& name) {
  kiln::Staged<int64_t(int64_t)> fib;
  fib = kiln::stage("fib", {"n"}, [&](Rep<int64_t> n) {
    return kiln::cond(n < 2, [&] { return n; }, [&] { return fib(n - 1) + fib(n - 2); });
  });
  kiln::Staged<std::tuple<int64_t, int64_t>(int64_t)> fibpair;
  fibpair = kiln::stage("fibpair", {"n"}, [&](Rep<int64_t> n) {
    return kiln::cond(
        n == 0, [&] { return std::make_tuple(Rep<int64_t>(0), Rep<int64_t>(1)); },
        [&] {
          auto [a, b] = fibpair(n - 1);
          return std::make_tuple(b, a + b);
        });
  });
  kiln::Staged<float(std::span<const float>, int64_t, int64_t)> rsum;
  rsum = kiln::stage("rsum", {"x", "lo", "hi"}, [&](Arr<const float> x, Rep<int64_t> lo, Rep<int64_t> hi) {
    return kiln::cond(
        hi - lo <= 2,
        [&] {
          Rep<float> s = 0.0f;
          kiln::for_(lo, hi, [&](Rep<int64_t> i) { s += x[i]; });
          return s;
        },
        [&] {
          Rep<int64_t> mid = lo + (hi - lo) / 2;
          return rsum(x, lo, mid) + rsum(x, mid, hi);
        });
  });
  auto scale = kiln::stage("scale", {"w", "f"}, [](Arr<float> w, Rep<float> f) {
    kiln::for_(0, w.size(), [&](Rep<int64_t> i) { w[i] = w[i] * f + 1.0f; });
  });
  auto mix = kiln::stage("mix", {"a", "b"}, [](Rep<int64_t> a, Rep<int64_t> b) { return a * 31 + (b ^ (a >> 3)); });
  return kiln::stage(name, {"n", "x", "w"}, [=](Rep<int64_t> n, Arr<const float> x, Arr<float> w) {
    auto [p0, p1] = fibpair(n);
    scale(w, 0.5f);
    scale(w, -3.0f);
    Rep<int64_t> m = mix(fib(n), p1);
    return std::make_tuple(mix(m, p0), rsum(x, 0, x.size()), p1);
  });
}

// Math functions and casts: float and double results, saturating float ->
// int casts (NaN -> 0), int64 -> int32 truncation, bool casts.
auto make_mathy(const std::string& name) {
  using namespace inputs;
  return kiln::stage(name, {"x", "yf", "yd", "yi", "yl"},
                     [](Arr<const float> x, Arr<float> yf, Arr<double> yd, Arr<int32_t> yi, Arr<int64_t> yl) {
                       kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
                         Rep<float> v = x[i];
                         Rep<double> d = kiln::cast<double>(v);
                         Rep<int64_t> f = i * kMathF, dd = i * kMathD, ii = i * kMathI, ll = i * kMathL;
                         yf[f + 0] = kiln::sin(v);
                         yf[f + 1] = kiln::exp(v);
                         yf[f + 2] = kiln::pow(v, 1.5f) + kiln::pow(v, 2.0f);
                         yf[f + 3] = kiln::tanh(v);
                         yf[f + 4] = kiln::sqrt(v);
                         yf[f + 5] = kiln::fma(v, v, Rep<float>(-1.0f));
                         yf[f + 6] = kiln::log(kiln::abs(v)) + kiln::cos(v);
                         yf[f + 7] = kiln::floor(v) / (v * v) + kiln::cast<float>(d * 3.0);
                         yd[dd + 0] = kiln::exp(d);
                         yd[dd + 1] = kiln::pow(d, d * 0.5);
                         yd[dd + 2] = kiln::fma(d, d, d);
                         yd[dd + 3] = kiln::tanh(d) + kiln::sin(d) * kiln::sqrt(kiln::abs(d));
                         yi[ii + 0] = kiln::cast<int32_t>(v);
                         yi[ii + 1] = kiln::cast<int32_t>(v * 1e3f);
                         yi[ii + 2] = kiln::cast<int32_t>(kiln::cast<int64_t>(v));
                         yi[ii + 3] = kiln::cast<int32_t>(d * -7.5) + kiln::cast<int32_t>(v != v);
                         yl[ll + 0] = kiln::cast<int64_t>(v);
                         yl[ll + 1] = kiln::cast<int64_t>(d * 1e10);
                         yl[ll + 2] = kiln::cast<int64_t>(v < 0.0f);
                         yl[ll + 3] = kiln::cast<int64_t>(kiln::cast<bool>(v));
                       });
                     });
}

// --- writing expected.h ---------------------------------------------------------------

template <class T>
struct bits_of {
  using type = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;
};

class Expected {
 public:
  template <class T>
  void array(const std::string& name, std::span<const T> xs) {
    using B = typename bits_of<T>::type;
    text_ += "constexpr " + std::string(sizeof(B) == 8 ? "uint64_t " : "uint32_t ") + name + "[] = {\n";
    for (T x : xs) text_ += "    " + literal(x) + ",\n";
    text_ += "};\n";
  }
  template <class T>
  void array(const std::string& name, const std::vector<T>& xs) {
    array(name, std::span<const T>(xs));
  }
  template <class T>
  void scalar(const std::string& name, T x) {
    using B = typename bits_of<T>::type;
    text_ += "constexpr " + std::string(sizeof(B) == 8 ? "uint64_t " : "uint32_t ") + name + " = " + literal(x) + ";\n";
  }
  void traps(const std::string& name, const std::vector<bool>& xs) {
    text_ += "constexpr bool " + name + "[] = {";
    for (bool x : xs) text_ += x ? "true, " : "false, ";
    text_ += "};\n";
  }
  void comment(const std::string& c) { text_ += "\n// " + c + "\n"; }
  std::string text() const {
    return "// Generated by kiln_export_programs (tests/export/export_programs.cpp): kiln's\n"
           "// interpreter results on inputs.h, as bit patterns. Do not edit.\n"
           "#pragma once\n\n#include <cstdint>\n\nnamespace expected {\n" +
           text_ + "\n}  // namespace expected\n";
  }

 private:
  // The bit pattern, with the value in a comment.
  template <class T>
  static std::string literal(T x) {
    char buf[160];
    if constexpr (std::is_same_v<T, float>) {
      uint32_t b;
      std::memcpy(&b, &x, sizeof b);
      std::snprintf(buf, sizeof buf, "0x%08" PRIx32 "u /* %a */", b, static_cast<double>(x));
    } else if constexpr (std::is_same_v<T, double>) {
      uint64_t b;
      std::memcpy(&b, &x, sizeof b);
      std::snprintf(buf, sizeof buf, "0x%016" PRIx64 "u /* %a */", b, x);
    } else if constexpr (sizeof(T) == 8) {
      std::snprintf(buf, sizeof buf, "0x%016" PRIx64 "u /* %" PRId64 " */", static_cast<uint64_t>(x),
                    static_cast<int64_t>(x));
    } else {
      std::snprintf(buf, sizeof buf, "0x%08" PRIx32 "u /* %" PRId32 " */", static_cast<uint32_t>(x),
                    static_cast<int32_t>(x));
    }
    return buf;
  }
  std::string text_;
};

template <class T, size_t N>
std::vector<T> vec(const T (&a)[N]) {
  return std::vector<T>(std::begin(a), std::end(a));
}

const kiln::Options interp = {.backend = kiln::Backend::interp};

template <class Sig>
void export_both(const std::filesystem::path& dir, const kiln::Staged<Sig>& optimised, const kiln::Staged<Sig>& plain,
                 std::vector<std::string>& names) {
  kiln::export_source(optimised, dir / (optimised.name() + ".cpp"));
  kiln::export_header(optimised, dir / (optimised.name() + ".h"));
  const kiln::Options o0 = {.optimize = false};
  kiln::export_source(plain, dir / (plain.name() + ".cpp"), kiln::Target::cpp, o0);
  kiln::export_header(plain, dir / (plain.name() + ".h"), o0);
  // The CUDA export of both (export.nvcc compiles them with nvcc).
  kiln::export_source(optimised, dir / (optimised.name() + ".cu"), kiln::Target::cuda);
  kiln::export_source(plain, dir / (plain.name() + ".cu"), kiln::Target::cuda, o0);
  names.push_back(optimised.name());
  names.push_back(plain.name());
}

// Calls f() and says whether it trapped (kiln::RuntimeError).
template <class F>
bool traps(F&& f) {
  try {
    f();
    return false;
  } catch (const kiln::RuntimeError&) {
    return true;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace inputs;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  Expected e;
  std::vector<std::string> names;

  {
    auto s = make_saxpy("saxpy");
    export_both(dir, s, make_saxpy("saxpy_O0"), names);
    auto f = kiln::compile(s, interp);
    auto y = vec(saxpy_y);
    f(saxpy_a, std::span<const float>(saxpy_x), std::span<float>(y));
    e.comment("saxpy");
    e.array("saxpy_y", y);
  }
  {
    auto s = make_dot("dot");
    export_both(dir, s, make_dot("dot_O0"), names);
    auto f = kiln::compile(s, interp);
    e.comment("dot");
    e.scalar("dot", f(std::span<const float>(dot_x), std::span<const float>(dot_y)));
  }
  {
    auto s = make_stats("stats");
    export_both(dir, s, make_stats("stats_O0"), names);
    auto f = kiln::compile(s, interp);
    auto [sum, negatives] = f(std::span<const float>(stats_x));
    e.comment("stats");
    e.scalar("stats_sum", sum);
    e.scalar("stats_negatives", negatives);
  }
  {
    auto s = make_intops<int32_t>("intops32");
    export_both(dir, s, make_intops<int32_t>("intops32_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int32_t> out(std::size(int32_a) * kIntOps);
    f(std::span<const int32_t>(int32_a), std::span<const int32_t>(int32_b), std::span<int32_t>(out));
    e.comment("intops32");
    e.array("intops32_out", out);
  }
  {
    auto s = make_intops<int64_t>("intops64");
    export_both(dir, s, make_intops<int64_t>("intops64_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int64_t> out(std::size(int64_a) * kIntOps);
    f(std::span<const int64_t>(int64_a), std::span<const int64_t>(int64_b), std::span<int64_t>(out));
    e.comment("intops64");
    e.array("intops64_out", out);
  }
  {
    auto s = make_idiv("idiv");
    export_both(dir, s, make_idiv("idiv_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int64_t> q, r;
    std::vector<bool> trapped;
    for (size_t k = 0; k < std::size(idiv_a); ++k) {
      int64_t qk = 0, rk = 0;
      trapped.push_back(traps([&] { std::tie(qk, rk) = f(idiv_a[k], idiv_b[k]); }));
      q.push_back(qk);
      r.push_back(rk);
    }
    e.comment("idiv (results are 0 where the call traps)");
    e.array("idiv_q", q);
    e.array("idiv_r", r);
    e.traps("idiv_traps", trapped);
  }
  {
    auto s = make_collatz("collatz");
    export_both(dir, s, make_collatz("collatz_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int64_t> steps;
    for (int64_t n : collatz_n) steps.push_back(f(n));
    e.comment("collatz");
    e.array("collatz_steps", steps);
  }
  {
    auto s = make_strided("strided");
    export_both(dir, s, make_strided("strided_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int64_t> sums;
    std::vector<bool> negative, trapped;
    std::vector<int32_t> outs;
    for (const Strided& c : strided_cases) {
      std::vector<int32_t> out(kStridedOut, 99);
      int64_t sum = 0;
      bool neg = false;
      trapped.push_back(traps([&] { std::tie(sum, neg) = f(std::span<int32_t>(out), c.lo, c.hi, c.step, c.flag); }));
      sums.push_back(sum);
      negative.push_back(neg);
      outs.insert(outs.end(), out.begin(), out.end());
    }
    e.comment("strided (results are 0 where the call traps)");
    e.array("strided_sum", sums);
    e.array("strided_negative", std::vector<int32_t>(negative.begin(), negative.end()));
    e.array("strided_out", outs);
    e.traps("strided_traps", trapped);
  }
  {
    auto s = make_calls("calls");
    export_both(dir, s, make_calls("calls_O0"), names);
    auto f = kiln::compile(s, interp);
    std::vector<int64_t> mixed, pairs;
    std::vector<float> sums, ws;
    for (int64_t n : calls_n) {
      std::vector<float> w = vec(calls_x);
      auto [m, sum, p] = f(n, std::span<const float>(calls_x), std::span<float>(w));
      mixed.push_back(m);
      sums.push_back(sum);
      pairs.push_back(p);
      ws.insert(ws.end(), w.begin(), w.end());
    }
    e.comment("calls");
    e.array("calls_mix", mixed);
    e.array("calls_sum", sums);
    e.array("calls_fib", pairs);
    e.array("calls_w", ws);
  }
  {
    auto s = make_mathy("mathy");
    export_both(dir, s, make_mathy("mathy_O0"), names);
    auto f = kiln::compile(s, interp);
    const size_t n = std::size(mathy_x);
    std::vector<float> yf(n * kMathF);
    std::vector<double> yd(n * kMathD);
    std::vector<int32_t> yi(n * kMathI);
    std::vector<int64_t> yl(n * kMathL);
    f(std::span<const float>(mathy_x), std::span<float>(yf), std::span<double>(yd), std::span<int32_t>(yi),
      std::span<int64_t>(yl));
    e.comment("mathy");
    e.array("mathy_yf", yf);
    e.array("mathy_yd", yd);
    e.array("mathy_yi", yi);
    e.array("mathy_yl", yl);
  }

  kiln::detail::write_text(dir / "expected.h", e.text());
  std::string list;
  for (const std::string& n : names) list += n + "\n";
  kiln::detail::write_text(dir / "programs.txt", list);
  std::printf("exported %zu programs to %s\n", names.size(), dir.string().c_str());
  return 0;
} catch (const std::exception& ex) {
  std::fprintf(stderr, "kiln_export_programs: %s\n", ex.what());
  return 1;
}
