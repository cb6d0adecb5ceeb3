// Checking programs: generate, promote, run the oracle (the interpreter on
// the unoptimised module), run every variant on every backend, compare.
// Also the one-step check the minimiser repeats on reduced modules, and
// running either in a child process.
#pragma once

#include "backends.h"
#include "generator.h"
#include "inputs.h"
#include "isolate.h"
#include "variants.h"

#include <functional>
#include <string>
#include <vector>

namespace kiln::fuzz {

/// How a check ended.
enum class Verdict : int {
  pass,             // every variant agreed with the oracle
  skipped,          // the oracle trapped (kiln::RuntimeError): nothing to compare
  staging_error,    // generating (staging) the program threw
  reference_error,  // the unoptimised pipeline or the oracle threw something other than a trap
  pipeline_error,   // a variant's pipeline threw (a verifier or internal error)
  run_error,        // a backend threw on a variant where the oracle did not trap
  mismatch,         // results or buffer contents differ
  crashed,          // the checking child died (signal, sanitizer)
  timed_out,        // the checking child hung
};
const char* to_string(Verdict v);
bool is_failure(Verdict v);

/// A step of a check: which variant, which backend, which stage.
struct Step {
  int variant = -1;
  std::string backend = "-";
  std::string stage = "-";  // generate, reference, oracle, pipeline, run
};
using Progress = std::function<void(const Step&)>;

/// What the gradient check left out or allowed for on a program, where
/// floating point makes the computed function's slope differ from the
/// derivative in real arithmetic (check_derivatives.cpp, check_grad).
enum class Excused : uint32_t {
  float32 = 1,      // double inputs whose derivative passes an f32 value, held still
  flat = 2,         // an output with the same bits at every shifted input, left out
  not_smooth = 4,   // an output whose three differences disagree, left out
  third_step = 8,   // ... of those, one whose differences at h and h/4 agreed
  floor_moved = 16, // a floor or float-to-int cast jumped inside the step: no differences
  sine_turned = 32, // a sine's or cosine's argument moved over 0.1: no differences
  noise = 64,       // forward and reverse mode apart, within their rounding noise
  not_finite = 128, // an output inf or NaN at the input, left out
};
inline constexpr const char* excused_names[] = {"float32",     "flat",        "not_smooth", "third_step",
                                                "floor_moved", "sine_turned", "noise",      "not_finite"};

/// The outcome of a check.
struct Report {
  Verdict verdict = Verdict::pass;
  Step at;                      // the failing step
  std::string detail;           // the differences or the exception
  std::string variant_ir;       // the variant's module (check_reduced with_ir)
  size_t nodes = 0;             // nodes of the promoted program
  size_t optimised_nodes = 0;   // nodes after every pass (variant 1)
  std::vector<uint32_t> tally;  // per ir::Op (table order): nodes of the promoted program
  // check_grad: whether reverse mode was compared with forward mode (the
  // derivative was finite) and with central differences (smooth there).
  int grad_vs_jvp = 0, grad_vs_difference = 0;
  // check_grad: what it left out or allowed for, a bit per Excused (the
  // tests of each allowance require theirs to have happened).
  uint32_t grad_excused = 0;
  // cuda: whether the program has a grid launch (a top-level parallel_for).
  bool cuda_grid = false;
};

/// One program to check.
struct Program {
  uint64_t seed = 0;
  Knobs knobs;
  bool inject = false;
  std::vector<const Backend*> backends;
  bool dump = false;  // print the promoted and the fully optimised module
  bool jvp = false;   // also check the program's jvp (check_jvp)
  bool grad = false;  // also check the program's reverse mode (check_grad)
  bool cuda = false;  // also emit CUDA (unoptimised and optimised): NVRTC and ptxas must accept it
  /// With grad, a wrong derivative check_grad must catch: 1, the central
  /// differences run the program with its f64 results scaled by 1.01;
  /// 2, the jvp's f64 scalar tangents are scaled by 1.01.
  int inject_grad = 0;
};

/// Checks a program in this process; `progress` hears each step first.
/// With p.jvp (p.grad), a program that passes goes on to check_jvp (check_grad).
Report check_program(const Program& p, const Progress& progress);

/// The forward-mode check of a promoted program `ref` (variables promoted,
/// otherwise unoptimised) that did not trap: the jvp of the optimised
/// program with respect to every floating-point parameter verifies; run
/// unoptimised on the interpreter (the oracle; tangent inputs drawn like any
/// input) it returns the program's own results and leaves its buffers as
/// the program does, bit for bit; and every backend agrees with that oracle
/// on the optimised jvp, tangents included.
Report check_jvp(const ir::Module& ref, uint64_t seed, const std::vector<const Backend*>& backends,
                 const Progress& progress);

/// The reverse-mode check of a promoted program `ref` that did not trap,
/// with respect to every floating-point parameter, run on `ref` with its
/// float constants' magnitudes clamped to [1e-3, 1e3] (tame_constants in
/// check.cpp: huge ones make the modes differ by rounding): the vjp verifies; run
/// unoptimised on the interpreter (the oracle) it leaves the program's
/// buffers as the program does, and every backend agrees with it bit for
/// bit on the optimised vjp. For a random direction u of the inputs and
/// cotangent w of the outputs, reverse mode agrees with forward mode:
/// <w, J u> from the jvp equals <J^T w, u> from the vjp (relative 1e-9 in
/// double, 1e-3 with float), when both are finite. And when the program is
/// all double, both agree with central differences (relative 1e-4) over
/// the output components smooth along u (three step sizes agree; flat ones
/// and those that floor or cast a float without a fraction are left out).
Report check_grad(const ir::Module& ref, uint64_t seed, const std::vector<const Backend*>& backends,
                  const Progress& progress, int inject = 0);

/// Checks variant `variant` on backend `b` for a promoted module (the
/// minimiser's question for each candidate). with_ir keeps the variant's IR.
Report check_reduced(const ir::Module& promoted, const Inputs& in, uint64_t seed, bool inject, int variant,
                     const Backend& b, const Progress& progress, bool with_ir = false);

/// Runs `check` in a child process (fork_it) with a time limit; a crash or
/// hang becomes a verdict at the last step the child reported.
Report isolated(const std::function<Report(const Progress&)>& check, double timeout_s, bool fork_it);
/// Its two halves, for children run side by side (kiln-fuzz --jobs): the
/// child's work, which sends the progress and the report, and the report
/// the parent reads from what the child sent.
std::function<void(const Send&)> reporting(std::function<Report(const Progress&)> check);
Report report_of(const Isolated& run);

/// The failure `candidate` shows is the one `original` showed (same
/// verdict at the same stage; same exception kind).
bool same_failure(const Report& original, const Report& candidate);

/// Nodes listed in the regions of every function of m.
size_t count_nodes(const ir::Module& m);

}  // namespace kiln::fuzz
