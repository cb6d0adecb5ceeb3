// Checks and the child-to-parent report protocol: progress lines
// "at VARIANT BACKEND STAGE", then "report" and length-prefixed fields.
// The derivative checks (check_jvp, check_grad) are in check_derivatives.cpp.
#include "check.h"
#include "check_support.h"

#include "isolate.h"

#include "cuda_tools.h"

#include <kiln/error.h>
#include <kiln/ir/parser.h>
#include <kiln/ir/printer.h>

#include "codegen/passes/pipeline.h"

#include <cstdio>
#include <optional>
#include <sstream>

namespace kiln::fuzz {

std::string describe(const std::exception& e) {
  const char* kind = "std::exception";
  if (dynamic_cast<const InternalError*>(&e)) kind = "kiln::InternalError";
  else if (dynamic_cast<const StagingError*>(&e)) kind = "kiln::StagingError";
  else if (dynamic_cast<const RuntimeError*>(&e)) kind = "kiln::RuntimeError";
  else if (dynamic_cast<const CompileError*>(&e)) kind = "kiln::CompileError";
  else if (dynamic_cast<const ShapeError*>(&e)) kind = "kiln::ShapeError";
  else if (dynamic_cast<const Error*>(&e)) kind = "kiln::Error";
  return std::string(kind) + ": " + e.what();
}

void round_trip(const ir::Module& m, const char* what) {
  const std::string text = ir::print(m);
  std::string back;
  try {
    back = ir::print(ir::parse(text, what));
  } catch (const ir::ParseError& e) {
    throw InternalError(std::string("the printed ") + what + " does not parse: " + e.what() + "\n" + text);
  }
  if (back == text) return;
  size_t at = 0;
  while (at < text.size() && at < back.size() && text[at] == back[at]) ++at;
  size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  throw InternalError(std::string("the printed ") + what + " reads back differently from line '" +
                      text.substr(line_start, text.find('\n', line_start) - line_start) + "':\n" + text + "---- read back as ----\n" + back);
}

Report failure(Report r, Verdict v, const Step& at, std::string detail) {
  r.verdict = v;
  r.at = at;
  r.detail = std::move(detail);
  return r;
}

std::optional<Report> run_against(const Report& r, const Step& at, const Progress& progress, const Backend& b,
                                  const ir::Module& m, const Inputs& in, const ir::Function& entry, const Outcome& expected) {
  progress(at);
  Outcome got;
  try {
    got = execute(b, m, in);
  } catch (const std::exception& e) {
    return failure(r, Verdict::run_error, at, describe(e));
  }
  std::string diff = differences(entry, expected, got);
  if (!diff.empty()) return failure(r, Verdict::mismatch, at, diff);
  return std::nullopt;
}

namespace {

void tally_ops(const ir::Module& m, std::vector<uint32_t>& tally) {
  for (const ir::Function& f : m.functions) ir::walk(f, [&](ir::ValueId v) { ++tally[static_cast<size_t>(f.nodes[v].op)]; });
}

std::string encode(const Report& r) {
  std::ostringstream out;
  out << "report\nverdict " << static_cast<int>(r.verdict) << "\nstep " << r.at.variant << ' ' << r.at.backend << ' '
      << r.at.stage << "\nnodes " << r.nodes << ' ' << r.optimised_nodes << "\ngrad " << r.grad_vs_jvp << ' '
      << r.grad_vs_difference << ' ' << r.grad_excused << "\ncuda " << r.cuda_grid << "\ntally";
  for (uint32_t n : r.tally) out << ' ' << n;
  out << "\ndetail " << r.detail.size() << '\n' << r.detail << "\nir " << r.variant_ir.size() << '\n' << r.variant_ir;
  return out.str();
}

/// Reads the child's output: the last progress step, and the report if it got that far.
std::optional<Report> decode(const std::string& text, Step& last) {
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word == "at") {
      in >> last.variant >> last.backend >> last.stage;
      continue;
    }
    if (word != "report") return std::nullopt;
    Report r;
    int verdict = 0;
    size_t n = 0;
    in >> word >> verdict >> word >> r.at.variant >> r.at.backend >> r.at.stage >> word >> r.nodes >> r.optimised_nodes >> word >>
        r.grad_vs_jvp >> r.grad_vs_difference >> r.grad_excused >> word >> r.cuda_grid >> word;
    r.verdict = static_cast<Verdict>(verdict);
    std::string line;
    std::getline(in, line);
    std::istringstream counts(line);
    for (uint32_t c; counts >> c;) r.tally.push_back(c);
    auto field = [&](std::string& into) {
      in >> word >> n;
      in.get();
      into.resize(n);
      in.read(into.data(), static_cast<std::streamsize>(n));
    };
    field(r.detail);
    field(r.variant_ir);
    if (!in) return std::nullopt;
    return r;
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::skipped: return "skipped (reference trapped)";
    case Verdict::staging_error: return "staging threw";
    case Verdict::reference_error: return "the unoptimised pipeline or the oracle threw";
    case Verdict::pipeline_error: return "the pipeline threw";
    case Verdict::run_error: return "the backend threw where the oracle did not trap";
    case Verdict::mismatch: return "mismatch";
    case Verdict::crashed: return "crashed";
    case Verdict::timed_out: return "timed out";
  }
  return "?";
}

bool is_failure(Verdict v) { return v != Verdict::pass && v != Verdict::skipped; }

size_t count_nodes(const ir::Module& m) {
  size_t n = 0;
  for (const ir::Function& f : m.functions) ir::walk(f, [&](ir::ValueId) { ++n; });
  return n;
}

Report check_program(const Program& p, const Progress& progress) {
  Report r;
  r.tally.assign(ir::all_ops().size(), 0);
  const std::vector<Variant> variants = make_variants(p.seed, p.inject);
  Step step{-1, "-", "generate"};
  progress(step);
  ir::Module raw;
  try {
    raw = generate(p.seed, p.knobs);
    round_trip(raw, "staged program");
  } catch (const std::exception& e) {
    return failure(r, Verdict::staging_error, step, describe(e));
  }
  step = {0, "-", "reference"};
  progress(step);
  ir::Module ref;
  try {
    // The oracle runs tensor ops directly, unlowered: the reference lowering
    // is tested against (no effect on programs without tensors).
    Options oracle = variants[0].options;
    oracle.passes.lower_tensors = false;
    ref = passes::run_pipeline(raw, oracle);
    round_trip(ref, "reference module");
  } catch (const std::exception& e) {
    return failure(r, Verdict::reference_error, step, describe(e));
  }
  r.nodes = count_nodes(ref);
  tally_ops(ref, r.tally);
  const Inputs in(ref.functions[0], p.seed);
  step = {0, std::string(interpreter().name), "oracle"};
  progress(step);
  Outcome expected;
  try {
    expected = execute(interpreter(), ref, in);
  } catch (const RuntimeError& e) {
    r.verdict = Verdict::skipped;
    r.detail = e.what();
    return r;
  } catch (const std::exception& e) {
    return failure(r, Verdict::reference_error, step, describe(e));
  }
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    std::optional<ir::Module> m;
    for (const Backend* b : p.backends) {
      if (vi == 0 && b == &interpreter() && !p.knobs.tensors) continue;  // the oracle itself
      if (!m) {
        step = {static_cast<int>(vi), "-", "pipeline"};
        progress(step);
        try {
          m = build_variant(raw, variants[vi]);
          round_trip(*m, "variant module");
          if (vi == 1) r.optimised_nodes = count_nodes(*m);
          if (vi == 1 && p.dump)
            std::printf("---- seed %llu, promoted ----\n%s---- seed %llu, %s ----\n%s", static_cast<unsigned long long>(p.seed),
                        ir::print(ref).c_str(), static_cast<unsigned long long>(p.seed), variants[vi].name.c_str(),
                        ir::print(*m).c_str());
        } catch (const std::exception& e) {
          return failure(r, Verdict::pipeline_error, step, describe(e));
        }
      }
      if (auto failed = run_against(r, {static_cast<int>(vi), std::string(b->name), "run"}, progress, *b, *m, in, ref.functions[0], expected))
        return *failed;
    }
  }
  if (p.cuda) {
    // The CUDA emitter on both shapes of the IR: NVRTC and ptxas must accept
    // the source (running it needs a GPU). Under sanitizers the emitter only
    // (tests/cuda_tools.h says why).
    for (int vi : {0, 1}) {
      step = {vi, "cuda", "nvrtc+ptxas"};
      progress(step);
      test::CudaCheck c;
      try {
        c = test::check_cuda(vi == 0 ? ref : build_variant(raw, variants[1]), !test::sanitized);
      } catch (const std::exception& e) {
        return failure(r, Verdict::run_error, step, describe(e));
      }
      if (!c.failure.empty()) return failure(r, Verdict::run_error, step, c.failure);
      r.cuda_grid = r.cuda_grid || c.grid;
    }
  }
  if (p.jvp) {
    Report j = check_jvp(ref, p.seed, p.backends, progress);
    if (j.verdict != Verdict::pass || !p.grad) {
      j.nodes = r.nodes;
      j.optimised_nodes = r.optimised_nodes;
      j.tally = std::move(r.tally);
      j.cuda_grid = r.cuda_grid;
      return j;
    }
  }
  if (p.grad) {
    Report g = check_grad(ref, p.seed, p.backends, progress, p.inject_grad);
    g.nodes = r.nodes;
    g.optimised_nodes = r.optimised_nodes;
    g.tally = std::move(r.tally);
    g.cuda_grid = r.cuda_grid;
    return g;
  }
  return r;
}

Report check_reduced(const ir::Module& promoted, const Inputs& in, uint64_t seed, bool inject, int variant,
                     const Backend& b, const Progress& progress, bool with_ir) {
  Report r;
  const Variant v = make_variants(seed, inject).at(static_cast<size_t>(variant));
  Step step{variant, std::string(interpreter().name), "oracle"};
  progress(step);
  Outcome expected;
  try {
    expected = execute(interpreter(), promoted, in);
  } catch (const RuntimeError& e) {
    r.verdict = Verdict::skipped;
    r.detail = e.what();
    return r;
  } catch (const std::exception& e) {
    return failure(r, Verdict::reference_error, step, describe(e));
  }
  step = {variant, "-", "pipeline"};
  progress(step);
  ir::Module m;
  try {
    m = build_variant(promoted, v);
  } catch (const std::exception& e) {
    return failure(r, Verdict::pipeline_error, step, describe(e));
  }
  if (with_ir) r.variant_ir = ir::print(m);
  return run_against(r, {variant, std::string(b.name), "run"}, progress, b, m, in, promoted.functions[0], expected).value_or(r);
}

std::function<void(const Send&)> reporting(std::function<Report(const Progress&)> check) {
  return [check = std::move(check)](const Send& send) {
    Report r = check([&](const Step& s) { send("at " + std::to_string(s.variant) + " " + s.backend + " " + s.stage + "\n"); });
    send(encode(r));
  };
}

Report report_of(const Isolated& run) {
  Step last;
  std::optional<Report> r = decode(run.output, last);
  if (run.end == Isolated::End::finished && r) return *r;
  Report out;
  out.verdict = run.end == Isolated::End::timed_out ? Verdict::timed_out : Verdict::crashed;
  out.at = last;
  out.detail = describe_end(run) + " (at stage " + last.stage + ")";
  return out;
}

Report isolated(const std::function<Report(const Progress&)>& check, double timeout_s, bool fork_it) {
  return report_of(isolate(reporting(check), timeout_s, fork_it));
}

bool same_failure(const Report& original, const Report& candidate) {
  if (candidate.verdict != original.verdict || candidate.at.stage != original.at.stage) return false;
  // The same kind of exception ("kiln::InternalError: ...").
  auto kind = [](const std::string& d) { return d.substr(0, d.find(':')); };
  if (original.verdict == Verdict::pipeline_error || original.verdict == Verdict::run_error)
    return kind(original.detail) == kind(candidate.detail);
  if (original.verdict == Verdict::crashed) return original.detail == candidate.detail;
  return true;
}

}  // namespace kiln::fuzz
