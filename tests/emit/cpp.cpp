// The C++ emitter's text: check lines on the generated source (FileCheck
// style, in order), determinism, and hostile user names.
#include "codegen/emit/cpp.h"

#include "support.h"

#include <regex>

using kiln::Arr;
using kiln::Rep;

namespace {

std::string cpp(const auto& staged) { return kiln::source(staged); }

}  // namespace

TEST_CASE("emitted C++: named parameters, a counted loop, one value per line", "[emit]") {
  auto saxpy = kiln::stage("saxpy", {"a", "x", "y"}, [](Rep<float> a, Arr<const float> x, Arr<float> y) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { y[i] = a * x[i] + y[i]; });
  });
  std::string text = cpp(saxpy);
  CHECK_LINES(text, {"#include <cstdint>",
                     "extern \"C\" void saxpy(float a, const float* x, int64_t x_size, float* y, int64_t /*y_size*/) {",
                     "  // cpp.cpp:",
                     "  for (int64_t i0 = INT64_C(0); i0 < x_size; ++i0) {",
                     "    const float t0 = y[i0];",
                     "    const float t1 = x[i0];",
                     "    const float t2 = a * t1;",
                     "    const float t3 = t2 + t0;",
                     "    y[i0] = t3;",
                     "  }",
                     "}"});
  CHECK(text.find("cmath") == std::string::npos);  // only the headers it needs
  CHECK(text.find("kiln_math") == std::string::npos);
  CHECK(text.find("namespace {") == std::string::npos);       // and no helpers
}

TEST_CASE("emitted C++: a tuple result goes through out-pointers, callees are static", "[emit]") {
  kiln::Staged<int64_t(int64_t)> fact;
  fact = kiln::stage("fact", {"n"}, [&](Rep<int64_t> n) {
    return kiln::cond(n <= 1, [&] { return Rep<int64_t>(1); }, [&] { return n * fact(n - 1); });
  });
  auto stats = kiln::stage("stats", {"x"}, [&](Arr<const double> x) {
    Rep<double> sum = 0.0;
    Rep<double> big = 0.0;
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
      sum += x[i];
      big = kiln::max(big, x[i]);
    });
    return std::make_tuple(sum, big, fact(x.size()));
  });
  std::string text = cpp(stats);
  CHECK_LINES(text, {"extern \"C\" void stats(const double* x, int64_t x_size, double* out0, double* out1, int64_t* out2);",
                     "namespace kiln_generated {",
                     "static int64_t fact(int64_t n);",
                     "}  // namespace kiln_generated",
                     "extern \"C\" void stats(const double* x, int64_t x_size, double* out0, double* out1, int64_t* out2) {",
                     "  double c0 = 0.0;",
                     "  double c1 = 0.0;",
                     "    const double t0 = x[i0];",
                     "    const double t1 = c0 + t0;",
                     "    const double t2 = c1 < t0 ? t0 : c1;",  // the load was merged (CSE)
                     "    c0 = t1;",
                     "    c1 = t2;",
                     "  const int64_t t3 = kiln_generated::fact(x_size);",
                     "  *out0 = c0;",
                     "  *out1 = c1;",
                     "  *out2 = t3;",
                     "static int64_t fact(int64_t n) {",
                     "  const bool t0 = n <= INT64_C(1);",
                     "  int64_t r0;",
                     "  if (t0) {",
                     "    r0 = INT64_C(1);",
                     "  } else {",
                     "    const int64_t t1 = kiln_add(n, (-INT64_C(1)));",
                     "    const int64_t t2 = kiln_generated::fact(t1);",
                     "    const int64_t t3 = kiln_mul(n, t2);",
                     "    r0 = t3;",
                     "  return r0;"});
}

TEST_CASE("emitted C++: while loops, traps and integer semantics go through helpers", "[emit]") {
  auto collatz = kiln::stage("collatz", {"n"}, [](Rep<int64_t> n) {
    Rep<int64_t> steps = 0;
    kiln::while_([&] { return n != 1; }, [&] {
      kiln::if_(n % 2 == 0, [&] { n = n / 2; }, [&] { n = 3 * n + 1; });
      steps += 1;
    });
    return steps;
  });
  std::string text = cpp(collatz);
  CHECK_LINES(text, {"template <class T> T kiln_add(T a, T b)",
                     "extern \"C\" int64_t collatz(int64_t n) {",
                     "  int64_t c0 = n;",
                     "  int64_t c1 = INT64_C(0);",
                     "  int64_t r0;",
                     "  for (;;) {",
                     "    const bool t0 = c0 != INT64_C(1);",
                     "    if (!t0) {",
                     "      r0 = c1;",
                     "      break;",
                     "    }",
                     "    const int64_t t1 = c0 % INT64_C(2);",  // a constant divisor cannot trap
                     "    if (t2) {",
                     "      const int64_t t3 = c0 / INT64_C(2);",
                     "    } else {",
                     "      const int64_t t4 = kiln_mul(c0, INT64_C(3));",
                     "  return r0;"});
  auto div = kiln::stage("div", {"a", "b"}, [](Rep<int32_t> a, Rep<int32_t> b) { return (a / b) << (b >> 3); });
  const std::string div_text = cpp(div);
  // std::domain_error without parsing <stdexcept> under libstdc++ (the C++
  // compiler's third of a second), with <stdexcept> elsewhere.
  CHECK_LINES(div_text, {"#include <cstdint>", "#if defined(__GLIBCXX__) && !defined(KILN_STANDARD_HEADERS)",
                         "#  include <bits/functexcept.h>", "#else", "#  include <stdexcept>", "#endif",
                         "[[noreturn]] void kiln_trap(const char* message) {",
                         "#if defined(__GLIBCXX__) && !defined(KILN_STANDARD_HEADERS)",
                         "  std::__throw_domain_error(message);", "#else", "  throw std::domain_error(message);",
                         "#endif", "}"});
  CHECK(div_text.find("\n#include <stdexcept>") == std::string::npos);
  CHECK_LINES(div_text, {
                         "const int32_t t0 = kiln_div(a, b, \"integer division by zero in @div (cpp.cpp:",
                         "const int32_t t1 = b >> (3 & 31);",
                         "const int32_t t2 = kiln_shl(t0, t1);"});
}

TEST_CASE("emitted C++: constants are exact, math calls stay the C library's", "[emit]") {
  auto f = kiln::stage("consts", {"x"}, [](Rep<double> x) {
    Rep<float> y = kiln::cast<float>(x) * 0.1f;
    return kiln::pow(x, 2.0) + kiln::sin(x) * -0.0 + kiln::cast<double>(y) + 1e300 +
           kiln::cast<double>(kiln::cast<int32_t>(x));
  });
  std::string text = cpp(f);
  // The math functions a file calls, as GCC's and Clang's builtins (<cmath>
  // costs the C++ compiler a third of a second), or from <cmath> elsewhere.
  CHECK_LINES(text, {"#if defined(__GNUC__) && !defined(KILN_STANDARD_HEADERS)", "namespace kiln_math {",
                     "inline float sin(float x) { return __builtin_sinf(x); }",
                     "inline double sin(double x) { return __builtin_sin(x); }",
                     "inline float pow(float x, float y) { return __builtin_powf(x, y); }",
                     "inline double pow(double x, double y) { return __builtin_pow(x, y); }",
                     "}  // namespace kiln_math", "#else", "#  include <cmath>", "namespace kiln_math = std;", "#endif",
                     "template <class T> T kiln_sin(T x) { return kiln_math::sin(kiln_opaque(x)); }",
                     "template <class T> T kiln_pow(T x, T y) { return kiln_math::pow(kiln_opaque(x), kiln_opaque(y)); }",
                     "const float t0 = float(x);", "const float t1 = t0 * 0.1f;"});
  CHECK(text.find("\n#include <cmath>") == std::string::npos);
  CHECK(text.find("exp(") == std::string::npos);  // only the functions it calls
  // Operand order follows the C++ compiler's evaluation order: check each alone.
  for (const char* piece : {"kiln_pow(x, 2.0)", "kiln_sin(x)", "(-0.0)", "1e+300", "kiln_to_int<int32_t>(x)"})
    CHECK_LINES(text, {piece});
}

TEST_CASE("emitted C++: the math the operator table writes goes through kiln_math (fmod: tests/opt/emit)", "[emit]") {
  auto f = kiln::stage("ops", {"x", "y"}, [](Rep<float> x, Rep<double> y) {
    Rep<float> a = kiln::sqrt(kiln::abs(x)) + kiln::floor(x) + kiln::fma(x, x, 1.0f);
    return kiln::cast<double>(a) + kiln::floor(y);
  });
  std::string text = cpp(f);
  for (const char* line : {"inline float sqrt(float x) { return __builtin_sqrtf(x); }",
                           "inline double floor(double x) { return __builtin_floor(x); }",
                           "inline float fabs(float x) { return __builtin_fabsf(x); }",
                           "inline float fma(float x, float y, float z) { return __builtin_fmaf(x, y, z); }"})
    CHECK_LINES(text, {line});
  for (const char* call : {"kiln_math::fabs(x)", "kiln_math::floor(x)", "kiln_math::fma(x, x, 1.0f)"})
    CHECK_LINES(text, {call});
  CHECK(text.substr(text.find("extern \"C\"")).find("std::") == std::string::npos);  // in the code
}

TEST_CASE("emitted C++ is deterministic", "[emit]") {
  auto make = [] {
    return kiln::stage("det", {"x", "n"}, [](Arr<float> x, Rep<int32_t> n) {
      kiln::for_(0, x.size(), [&](Rep<int64_t> i) {
        kiln::if_(kiln::cast<int32_t>(i) < n, [&] { x[i] = kiln::exp(x[i]); });
      });
    });
  };
  auto a = make();
  CHECK(cpp(a) == cpp(a));
  CHECK(cpp(a) == cpp(make()));
}

TEST_CASE("hostile names become valid, distinct identifiers and the source builds", "[emit]") {
  auto f = kiln::stage("a; system(\"x\")", {"int", "größe", "a", "a", "x_size", "kiln_add", "*/ evil(); /*"},
                       [](Rep<int32_t> p0, Rep<float> p1, Arr<float> p2, Rep<float> p3, Arr<const float> p4,
                          Rep<int32_t> p5, Rep<float> p6) {
                         kiln::for_(0, p2.size(), [&](Rep<int64_t> i) { p2[i] = p1 + p3 + p4[i] + p6; });
                         return p0 + p5;
                       });
  std::string text = cpp(f);
  CHECK_LINES(text, {"extern \"C\" int32_t a_system_x_(int32_t int_, float gr_u00F6_u00DF_e, float* a, int64_t a_size, "
                     "float a_2, const float* x_size, int64_t /*x_size_size*/, int32_t kiln_add_, float evil_)"});
  std::string code = std::regex_replace(text, std::regex("//[^\n]*"), "");  // user text stays in comments
  CHECK(code.find("system(") == std::string::npos);
  CHECK(code.find("evil(") == std::string::npos);
  std::vector<float> y = {1, 2}, x = {10, 20};
  CHECK(kiln::test::interp(f)(1, 0.5f, y, 0.25f, x, 2, 0.125f) == 3);
  CHECK(y == std::vector<float>{10.875f, 20.875f});
  auto keywords = kiln::stage("main", {"class", "sin", "t0"}, [](Rep<double> a, Rep<double> b, Rep<double> c) {
    return kiln::sin(a) + b * c;
  });
  std::string k = cpp(keywords);
  CHECK_LINES(k, {"extern \"C\" double main_(double class_, double sin_, double t0) {"});
  CHECK_LINES(k, {"kiln_sin(class_)"});
  CHECK_LINES(k, {"= sin_ * t0;"});
  CHECK(kiln::test::interp(keywords)(0.0, 2.0, 3.0) == 6.0);
}

TEST_CASE("the header declares the entry function for C and C++", "[emit]") {
  auto f = kiln::stage("scale", {"x", "k"}, [](Arr<double> x, Rep<double> k) {
    kiln::for_(0, x.size(), [&](Rep<int64_t> i) { x[i] = x[i] * k; });
  });
  std::string h = kiln::emit::emit_cpp_header(f.module());
  CHECK_LINES(h, {"#pragma once", "#ifdef __cplusplus", "extern \"C\" {", "#include <stdint.h>",
                  "void scale(double* x, int64_t x_size, double k);", "}  // extern \"C\""});
}
