// Running one pass on staged IR in tests: the module before and after, its
// text for check lines, the verifier after the pass, and a differential run
// on the interpreter (the oracle) proving the pass kept the meaning.
#pragma once

#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include "backends/interp/interpreter.h"
#include "codegen/passes/passes.h"
#include "support.h"

#include <cstring>
#include <string>
#include <vector>

#include <kiln/error.h>

namespace kiln::test {

using PassFn = void (*)(ir::Module&, const Options&);

struct PassRun {
  ir::Module before, after;
  std::string before_text, after_text;
};

/// Runs `pass` once with `opts` on a module the test prepared (e.g. with
/// another pass run first, to get the input the pass under test sees in the
/// pipeline) and verifies the result.
inline PassRun run_pass_on(const ir::Module& m, PassFn pass, const Options& opts = {}) {
  PassRun r;
  r.before = m;
  r.before_text = ir::print(r.before);
  r.after = r.before;
  pass(r.after, opts);
  ir::verify(r.after, "test");
  r.after_text = ir::print(r.after);
  return r;
}

/// run_pass_on s's promoted, unoptimised module.
template <class Sig>
PassRun run_pass(const Staged<Sig>& s, PassFn pass, const Options& opts = {}) {
  return run_pass_on(s.module(unoptimised), pass, opts);
}

/// Bit-exact equality of two result slots of scalar type t (any NaN equals any NaN).
inline bool same_slot(const detail::Slot& a, const detail::Slot& b, ir::Type t) {
  if (t.elem == ir::Scalar::f32 && a.f32 != a.f32) return b.f32 != b.f32;
  if (t.elem == ir::Scalar::f64 && a.f64 != a.f64) return b.f64 != b.f64;
  if (t.elem == ir::Scalar::f32) return std::memcmp(&a.f32, &b.f32, sizeof(float)) == 0;
  if (t.elem == ir::Scalar::f64) return std::memcmp(&a.f64, &b.f64, sizeof(double)) == 0;
  return a.i == b.i;
}

/// Runs both modules on the interpreter with `args` (scalars only) and
/// checks every result is bit-identical.
inline void check_same_results(const PassRun& r, const std::vector<detail::Slot>& args) {
  std::vector<detail::Slot> a = interp::run(r.before, args);
  std::vector<detail::Slot> b = interp::run(r.after, args);
  REQUIRE(a.size() == b.size());
  const auto& types = r.before.functions[0].result_types;
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result " << i << "\nbefore:\n" << r.before_text << "after:\n" << r.after_text);
    CHECK(same_slot(a[i], b[i], types[i]));
  }
}

inline detail::Slot i64(int64_t v) { detail::Slot s; s.i = v; return s; }
inline detail::Slot f32(float v) { detail::Slot s; s.i = 0; s.f32 = v; return s; }
inline detail::Slot f64(double v) { detail::Slot s; s.f64 = v; return s; }

/// check_lines that explains a failure: the first missing line and the whole
/// text are attached to the next assertion. CHECK(has_lines(text, {...})).
inline bool has_lines(const std::string& text, const std::vector<std::string>& checks) {
  std::string why;
  if (check_lines(text, checks, &why)) return true;
  UNSCOPED_INFO(why << "\n" << text);
  return false;
}

/// The part of `text` from the first `from` up to the next `to` after it
/// ("" when `from` is missing; the rest of the text when `to` is): e.g. a
/// loop's body as between(text, "for ", "get ").
inline std::string between(const std::string& text, const std::string& from, const std::string& to) {
  size_t a = text.find(from);
  if (a == std::string::npos) return "";
  size_t b = text.find(to, a + from.size());
  return text.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

/// One argument of check_same_behaviour: a scalar, or a buffer's initial
/// contents (each run gets its own copy).
struct Arg {
  detail::Slot scalar{};
  bool is_buffer = false;
  std::vector<unsigned char> bytes;
  int64_t elems = 0;
  Arg(detail::Slot s) : scalar(s) {}
  template <class T>
  static Arg buffer(const std::vector<T>& v) {
    Arg a(detail::Slot{});
    a.is_buffer = true;
    a.elems = static_cast<int64_t>(v.size());
    a.bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    return a;
  }
};

/// Like check_same_results, with buffers and traps: runs both modules on the
/// interpreter with fresh copies of the buffers, and checks that both trap
/// (kiln::RuntimeError) or neither does, and then that the results are
/// bit-identical and every buffer ends with the same bytes.
inline void check_same_behaviour(const PassRun& r, const std::vector<Arg>& args) {
  struct Outcome {
    bool trapped = false;
    std::vector<detail::Slot> results;
    std::vector<std::vector<unsigned char>> buffers;
  };
  auto run = [&](const ir::Module& m) {
    Outcome o;
    for (const Arg& a : args)
      if (a.is_buffer) o.buffers.push_back(a.bytes);
    std::vector<detail::Slot> slots;
    size_t b = 0;
    for (const Arg& a : args) {
      if (!a.is_buffer) {
        slots.push_back(a.scalar);
        continue;
      }
      detail::Slot s;
      s.p = o.buffers[b++].data();
      s.size = a.elems;
      slots.push_back(s);
    }
    try {
      o.results = interp::run(m, slots);
    } catch (const RuntimeError&) {
      o.trapped = true;
    }
    return o;
  };
  Outcome a = run(r.before), b = run(r.after);
  INFO("before:\n" << r.before_text << "after:\n" << r.after_text);
  REQUIRE(a.trapped == b.trapped);
  REQUIRE(a.results.size() == b.results.size());
  const auto& types = r.before.functions[0].result_types;
  for (size_t i = 0; i < a.results.size(); ++i) {
    INFO("result " << i);
    CHECK(same_slot(a.results[i], b.results[i], types[i]));
  }
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    INFO("buffer " << i);
    CHECK(a.buffers[i] == b.buffers[i]);
  }
}

}  // namespace kiln::test
