// kiln-fuzz: the random-program differential tester. Program i is generated
// from seed S+i, run by the interpreter without optimisation (the oracle),
// then through every pass and through a random subset of passes on every
// requested backend; results and buffer contents must agree. Each program
// is checked in a child process, so a crash or hang is a reported failure.
// A failure is minimised at IR level and printed as a reproducer.
//
//   kiln-fuzz --seed 1 --count 200 --backends all --require-coverage
#include "backends.h"
#include "check.h"
#include "generator.h"
#include "isolate.h"
#include "minimize.h"
#include "variants.h"

#include "cuda_tools.h"

#include <kiln/ir/printer.h>

#include "codegen/passes/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kiln::fuzz;
using Clock = std::chrono::steady_clock;

struct Cli {
  uint64_t seed = 1;
  int count = 100;
  std::string backends = "interp";
  int size = Knobs{}.size;
  int inject_grad = 1;  // --inject-bug=jvp: 2
  int jobs = 1;
  bool keep_going = false, verbose = false, inject = false, require_coverage = false, fork = true, dump = false,
       jvp = false,
       grad = false, cuda = false, tensors = false;
  double timeout = 30, minimize_time = 60;
};

constexpr const char* usage =
    "usage: kiln-fuzz [--seed S] [--count N] [--backends interp|llvm|cxx|cuda,...|all] [--size K]\n"
    "                 [--keep-going] [--verbose] [--inject-bug] [--require-coverage]\n"
    "                 [--timeout SECONDS] [--minimize-time SECONDS] [--no-fork] [--dump] [--jvp] [--grad]\n"
    "                 [--cuda] [--tensors] [--jobs J]\n"
    "  Checks programs from seeds S .. S+N-1 (defaults: 1, 100) against the interpreter on the\n"
    "  unoptimised module; exits non-zero on any mismatch or error.\n"
    "  --size K            rough size of each program in IR nodes (default 400)\n"
    "  --keep-going        report (and minimise) every failure, not only the first\n"
    "  --inject-bug        miscompile the optimised modules on purpose: the run must fail\n"
    "                      (with --grad: central differences of results scaled by 1.01 instead;\n"
    "                      --inject-bug=jvp: the jvp's tangents scaled by 1.01)\n"
    "  --require-coverage  fail unless every IR op (but var.*, param, tape.*) was generated\n"
    "  --timeout           seconds per program before it counts as hung (default 30)\n"
    "  --minimize-time     seconds to spend minimising one failure (default 60)\n"
    "  --no-fork           check in this process (for debuggers; a crash ends the run)\n"
    "  --jobs J            check J programs at once, each in its own child process (default 1);\n"
    "                      results, failures and minimising stay in seed order\n"
    "  --dump              print each program's promoted and fully optimised IR\n"
    "  --jvp               also differentiate each program (forward mode, every floating-point\n"
    "                      parameter): its primal part must equal the program, every backend\n"
    "                      the interpreter on the unoptimised jvp\n"
    "  --grad              also check reverse mode (every floating-point parameter): every backend\n"
    "                      agrees with the interpreter on the vjp, reverse agrees with forward mode\n"
    "                      along a random direction, and both with central differences where smooth\n"
    "  --cuda              also emit each program as CUDA (unoptimised and optimised; parallel_for_\n"
    "                      made likelier): NVRTC must compile it to PTX for sm_90 and ptxas accept\n"
    "                      the PTX (no GPU needed; --backends cuda runs it on a GPU)\n"
    "  --tensors           tensor programs instead (gen_tensor.cpp): the oracle runs their tensor\n"
    "                      ops unlowered, every variant and backend runs them lowered;\n"
    "                      --require-coverage then wants every tensor op but tensor.embed\n";

[[noreturn]] void usage_error(const std::string& what) {
  std::cerr << "kiln-fuzz: " << what << "\n" << usage;
  std::exit(2);
}

Cli parse(int argc, char** argv) {
  Cli cli;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage_error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto number = [&](int& i) {
    std::string flag = argv[i], v = value(i);
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end || x < 0) usage_error(flag + " takes a non-negative number, not '" + v + "'");
    return x;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seed") {
      std::string flag = a, v = value(i);
      char* end = nullptr;
      cli.seed = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end) usage_error(flag + " takes an unsigned integer, not '" + v + "'");
    } else if (a == "--count") cli.count = static_cast<int>(number(i));
    else if (a == "--backends") cli.backends = value(i);
    else if (a == "--size") cli.size = std::max(1, static_cast<int>(number(i)));
    else if (a == "--timeout") cli.timeout = number(i);
    else if (a == "--minimize-time") cli.minimize_time = number(i);
    else if (a == "--jobs") cli.jobs = std::max(1, static_cast<int>(number(i)));
    else if (a == "--keep-going") cli.keep_going = true;
    else if (a == "--verbose") cli.verbose = true;
    else if (a == "--inject-bug") cli.inject = true;
    else if (a == "--inject-bug=jvp") cli.inject = true, cli.inject_grad = 2;
    else if (a == "--require-coverage") cli.require_coverage = true;
    else if (a == "--no-fork") cli.fork = false;
    else if (a == "--dump") cli.dump = true;
    else if (a == "--jvp") cli.jvp = true;
    else if (a == "--grad") cli.grad = true;
    else if (a == "--cuda") cli.cuda = true;
    else if (a == "--tensors") cli.tensors = true;
    else if (a == "--help" || a == "-h") {
      std::cout << usage;
      std::exit(0);
    } else usage_error("unknown argument '" + a + "'");
  }
  return cli;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string indent(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    out += (line.starts_with("  ") ? "" : "  ") + std::string(line) + "\n";
    start = end + 1;
  }
  return out;
}

/// Reduces a failing program at IR level and prints the reproducer.
void minimise_and_print(const Program& p, const Report& failure, const Cli& cli) {
  const std::vector<Variant> variants = make_variants(p.seed, p.inject);
  kiln::ir::Module raw, ref;
  try {
    raw = generate(p.seed, p.knobs);
    ref = kiln::passes::run_pipeline(raw, variants[0].options);
  } catch (const std::exception& e) {
    std::cout << "  (cannot rebuild the program here: " << e.what() << ")\n";
    return;
  }
  const Inputs in(ref.functions[0], p.seed);
  const Backend* backend = &interpreter();
  for (const Backend* b : p.backends)
    if (b->name == failure.at.backend) backend = b;
  auto check = [&](const kiln::ir::Module& m, double timeout, bool with_ir) {
    return isolated(
        [&](const Progress& progress) {
          return check_reduced(m, in, p.seed, p.inject, failure.at.variant, *backend, progress, with_ir);
        },
        timeout, cli.fork);
  };

  const auto t0 = Clock::now();
  const Report first = check(ref, cli.timeout, false);
  const double once = seconds_since(t0);
  if (!same_failure(failure, first)) {
    std::cout << "  the failure does not reproduce from the promoted module (there: " << to_string(first.verdict)
              << "); the unminimised staged module:\n"
              << kiln::ir::print(raw);
    return;
  }
  // A candidate that hangs is not the failure, unless the failure is a hang.
  const double timeout = failure.verdict == Verdict::timed_out ? std::min(cli.timeout, 5.0)
                                                                 : std::clamp(10 * once + 1.0, 1.0, cli.timeout);
  auto still_fails = [&](const kiln::ir::Module& m) { return same_failure(failure, check(m, timeout, false)); };
  auto cleanup = [&](const kiln::ir::Module& m) {
    // Probe in a child first: the cleanup runs the passes under test.
    Isolated probe = isolate(
        [&](const Send& send) {
          try {
            kiln::passes::run_pipeline(m, dce_only());
            send("ok");
          } catch (const std::exception&) {
          }
        },
        timeout, cli.fork);
    if (probe.end != Isolated::End::finished || probe.output != "ok") return m;
    return kiln::passes::run_pipeline(m, dce_only());
  };
  const auto t1 = Clock::now();
  const Reduction red = minimize(ref, still_fails, cleanup, cli.minimize_time);
  const Report last = check(red.module, cli.timeout, true);

  const std::string& vname = variants.at(static_cast<size_t>(failure.at.variant)).name;
  std::printf("minimised reproducer: seed %llu, variant '%s', backend %s: %zu -> %zu nodes "
              "(%d candidates tried, %d kept, %.1f s%s)\n",
              static_cast<unsigned long long>(p.seed), vname.c_str(), std::string(backend->name).c_str(),
              red.nodes_before, red.nodes_after, red.tried, red.accepted, seconds_since(t1),
              red.out_of_time ? ", stopped by --minimize-time" : "");
  std::cout << "---- inputs (drawn from the seed) ----\n"
            << in.describe() << "---- reduced unoptimised module ----\n"
            << kiln::ir::print(red.module);
  if (!last.variant_ir.empty()) std::cout << "---- after the pipeline of '" << vname << "' ----\n" << last.variant_ir;
  std::cout << "---- on the reduced module: " << to_string(last.verdict) << " ----\n" << indent(last.detail);
  std::cout << "---- end of reproducer (rerun: kiln-fuzz --seed " << p.seed << " --count 1 --backends "
            << backend->name << (p.inject ? " --inject-bug" : "") << ") ----\n";
}

void report_failure(const Program& p, const Report& r, const Cli& cli) {
  const std::vector<Variant> variants = make_variants(p.seed, p.inject);
  std::cout << "FAIL seed " << p.seed << ": " << to_string(r.verdict) << "\n";
  if (r.at.variant >= 0) std::cout << "  variant: " << variants.at(static_cast<size_t>(r.at.variant)).name << "\n";
  std::cout << "  backend: " << r.at.backend << "\n  stage: " << r.at.stage << "\n" << indent(r.detail);
  const bool reducible = r.at.variant >= 0 && (r.at.stage == "pipeline" || r.at.stage == "run");
  if (reducible) return minimise_and_print(p, r, cli);
  if (r.verdict == Verdict::reference_error) {
    // The unoptimised pipeline or the oracle failed: show the staged module.
    try {
      std::cout << "---- staged module (seed " << p.seed << ") ----\n" << kiln::ir::print(generate(p.seed, p.knobs));
    } catch (const std::exception&) {
    }
  }
  std::cout << "  (rerun: kiln-fuzz --seed " << p.seed << " --count 1 --verbose)\n";
}

/// Prints the op tally; true when every op but var.load, var.store, param,
/// the tape ops and the tensor ops appeared (with `tensors`: every tensor op
/// but tensor.embed, which only reverse mode makes).
bool print_coverage(const std::vector<uint64_t>& tally, bool tensors) {
  std::string missing, line;
  std::cout << "op tally (nodes of the generated programs, promoted):\n";
  for (kiln::ir::Op op : kiln::ir::all_ops()) {
    const uint64_t n = tally[static_cast<size_t>(op)];
    const std::string name(kiln::ir::info(op).spelling);
    std::string entry = name + " " + std::to_string(n);
    entry.resize(std::max<size_t>(entry.size() + 1, 20), ' ');
    if (line.size() + entry.size() > 100) {
      std::cout << "  " << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
      line.clear();
    }
    line += entry;
    // Staging never makes var ops after promotion, params as nodes, or tape
    // ops (reverse mode does). Scalar programs have no tensor ops; tensor
    // programs (--tensors) are checked for those. The tally is of the
    // oracle's module, whose tensor ops are not lowered, so lowering's
    // alloc, check and gemm never count (tests/lower/ tests them).
    const bool tensor = kiln::ir::is_tensor_op(op) || op == kiln::ir::Op::Alloc || op == kiln::ir::Op::Check ||
                        op == kiln::ir::Op::Gemm;
    const bool wanted = tensors ? kiln::ir::is_tensor_op(op) && op != kiln::ir::Op::Embed
                                : op != kiln::ir::Op::VarLoad && op != kiln::ir::Op::VarStore &&
                                      op != kiln::ir::Op::Param && !kiln::ir::is_tape_op(op) && !tensor;
    if (n == 0 && wanted) missing += " " + name;
  }
  std::cout << "  " << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  if (missing.empty()) std::cout << "coverage: every IR op was generated\n";
  else std::cout << "coverage: FAILED, never generated:" << missing << "\n";
  return missing.empty();
}

}  // namespace

int main(int argc, char** argv) {
  const Cli cli = parse(argc, argv);
  // Each program is compiled once: keep compiled code out of the disk cache
  // unless the caller asked for it.
  setenv("KILN_DISK_CACHE", "0", 0);
  std::vector<const Backend*> backends;
  try {
    backends = select_backends(cli.backends);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  if (std::string why; cli.cuda && !kiln::test::cuda_tools(&why)) {
    std::printf("kiln-fuzz: --cuda skipped, the CUDA toolchain is missing: %s\n", why.c_str());
    return 77;  // ctest's SKIP_RETURN_CODE: skipped, not passed
  }
  Knobs knobs;
  knobs.size = cli.size;
  if (cli.cuda) knobs.w_parallel = 8;  // most programs get grid launches
  knobs.tensors = cli.tensors;
  std::string names;
  for (const Backend* b : backends) {
    if (!names.empty()) names += ',';
    names += b->name;
  }
  std::printf("kiln-fuzz: seeds %llu..%llu, backends %s, size %d%s\n", static_cast<unsigned long long>(cli.seed),
              static_cast<unsigned long long>(cli.seed + std::max(cli.count, 1) - 1), names.c_str(), cli.size,
              cli.inject ? ", injecting a bug" : "");

  std::vector<uint64_t> tally(kiln::ir::all_ops().size(), 0);
  int passed = 0, failed = 0, skipped = 0;
  size_t nodes = 0, optimised = 0;
  int grad_vs_jvp = 0, grad_vs_difference = 0, cuda_grid = 0;
  int excused[std::size(excused_names)] = {};
  const auto start = Clock::now();
  auto program = [&](int i) {
    return Program{cli.seed + static_cast<uint64_t>(i), knobs, cli.inject && !cli.grad, backends, cli.dump, cli.jvp, cli.grad, cli.cuda,
                   cli.inject && cli.grad ? cli.inject_grad : 0};
  };
  // --jobs: children checking the next programs, in seed order; each
  // program's result is taken (and a failure minimised) in seed order.
  // --dump prints from the child, so it keeps one at a time.
  const size_t jobs = cli.fork && !cli.dump ? static_cast<size_t>(cli.jobs) : 1;
  std::deque<std::unique_ptr<Child>> running;
  int started = 0;
  auto start_more = [&] {
    for (; jobs > 1 && running.size() < jobs && started < cli.count; ++started) {
      const Program p = program(started);
      running.push_back(std::make_unique<Child>(reporting([p](const Progress& progress) { return check_program(p, progress); }), cli.timeout));
    }
  };
  auto wait_for = [&](const Child& c) {
    std::vector<Child*> all;
    for (auto& x : running) all.push_back(x.get());
    while (!c.done()) wait_any(all);
  };
  for (int i = 0; i < cli.count; ++i) {
    const Program p = program(i);
    Report r;
    double ms = 0;
    if (jobs == 1) {
      const auto t0 = Clock::now();
      r = isolated([&](const Progress& progress) { return check_program(p, progress); }, cli.timeout, cli.fork);
      ms = 1000 * seconds_since(t0);
    } else {
      start_more();
      wait_for(*running.front());
      ms = 1000 * running.front()->seconds();
      r = report_of(running.front()->end());
      running.pop_front();
      if (is_failure(r.verdict))  // minimising wants the machine: let the others finish first
        for (auto& c : running) wait_for(*c);
      else
        start_more();
    }
    if (r.tally.size() == tally.size())
      for (size_t k = 0; k < tally.size(); ++k) tally[k] += r.tally[k];
    nodes += r.nodes;
    optimised += r.optimised_nodes;
    grad_vs_jvp += r.grad_vs_jvp;
    grad_vs_difference += r.grad_vs_difference;
    for (size_t k = 0; k < std::size(excused); ++k) excused[k] += r.grad_excused >> k & 1;
    cuda_grid += r.cuda_grid;
    if (cli.verbose)
      std::printf("seed %llu: %s (%zu nodes, %zu after all passes, %.0f ms)\n", static_cast<unsigned long long>(p.seed),
                  to_string(r.verdict), r.nodes, r.optimised_nodes, ms);
    if (r.verdict == Verdict::skipped) {
      ++skipped;
      if (cli.verbose) std::cout << "  " << r.detail << "\n";
      continue;
    }
    if (!is_failure(r.verdict)) {
      ++passed;
      continue;
    }
    ++failed;
    report_failure(p, r, cli);
    if (!cli.keep_going) break;
  }
  const double total = seconds_since(start);
  const int ran = passed + failed + skipped;
  bool coverage_ok = true;
  if (cli.require_coverage) coverage_ok = print_coverage(tally, cli.tensors);
  std::printf("%d passed, %d failed\n", passed, failed);
  if (cli.cuda)
    std::printf("CUDA: %s %d programs, %d of them with grid launches\n",
                kiln::test::sanitized ? "emitted (NVRTC and ptxas do not run under sanitizers)" : "NVRTC and ptxas accepted",
                passed, cuda_grid);
  if (cli.grad)
    std::printf("reverse mode compared with forward mode on %d programs (finite derivative), with central "
                "differences on %d (smooth there)\n",
                grad_vs_jvp, grad_vs_difference);
  if (cli.grad) {
    std::printf("the gradient check allowed for floating point on:");  // programs, per Excused
    for (size_t k = 0; k < std::size(excused); ++k) std::printf(" %s %d%s", excused_names[k], excused[k], k + 1 < std::size(excused) ? "," : "\n");
  }
  const size_t per = std::max(ran, 1);
  std::printf("%d skipped (reference trapped); %.1f s, %.0f ms per program; nodes per program: %zu, %zu after all passes\n",
              skipped, total, 1000 * total / per, nodes / per, optimised / per);
  return failed == 0 && coverage_ok ? 0 : 1;
}
