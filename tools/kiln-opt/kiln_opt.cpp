// kiln-opt: kiln's `opt`. Reads textual IR (docs/ir.md, "Textual form"),
// runs passes and derivatives in the order the command line gives them,
// verifying after each, then prints the IR, emits C++/CUDA/LLVM IR/Graphviz,
// or runs the entry function on a backend. `kiln-opt --help` says how.
#include <kiln/compile.h>
#include <kiln/error.h>
#include <kiln/ir/dot.h>
#include <kiln/ir/parser.h>
#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include "backends/kernel.h"
#include "codegen/autodiff/forward.h"
#include "codegen/autodiff/reverse.h"
#include "codegen/emit/cpp.h"
#include "codegen/emit/cuda.h"
#include "codegen/lower/lower_tensors.h"
#include "codegen/passes/passes.h"
#include "codegen/passes/pipeline.h"
#include "codegen/passes/promote_variables.h"
#include "codegen/passes/rewrite.h"
#include "run_args.h"
#ifdef KILN_OPT_HAVE_LLVM
#include "backends/llvm/llvm_backend.h"
#endif

#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <map>
#include <sstream>

namespace kiln::opt {
namespace {

constexpr const char* usage = R"(usage: kiln-opt [FILE | -] [ACTION...] [--emit=KIND | --run=BACKEND [--arg=VALUE...]]
  Reads textual kiln IR (FILE, or stdin when FILE is - or absent), applies the
  actions in the order given, verifying the IR after each, and prints the result.

actions:
  --passes=P,Q,...   run passes in order: promote_variables, inline_calls, fold,
                     reduce_strength, cse, simplify_cfg, forward_tape, forward_fill,
                     licm, dce, reorder_loops,
                     lower_tensors, compact, or default (the whole pipeline that
                     kiln::compile runs: promotion, two rounds of the scalar passes,
                     tensor lowering, loop reordering, compaction)
  --grad[=I,J]       replace the entry by its gradient (reverse mode) with respect
                     to parameters I, J (default: every floating-point parameter);
                     the entry must return one floating-point value
  --vjp[=I,J]        the same as a vector-Jacobian product (one cotangent per
                     floating-point result is appended to the parameters)
  --jvp[=I,J]        replace the entry by its forward-mode derivative
  --fast-math        Options::fast_math for the passes, lowering and backends after it

output (one):
  --emit=ir          the IR (default)
  --emit=cpp         C++ source as kiln::export_source writes it
  --emit=cuda        CUDA source as Backend::cuda compiles it
  --emit=llvm        LLVM IR after LLVM's optimisation for this CPU (when built with LLVM)
  --emit=dot         a Graphviz graph of the IR
  --run=BACKEND      call the entry on interp, cxx or llvm with one --arg per parameter:
                     a number or true/false for a scalar, [1, 2.5, 3] or zeros(N) for a
                     buffer; prints each result and every writable buffer afterwards
  -o FILE            write the output to FILE instead of stdout
)";

/// A failure of kiln-opt's own (bad command line, IR in the wrong state).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool has_variables(const ir::Module& m) {
  bool found = false;
  for (const ir::Function& f : m.functions)
    ir::walk(f, [&](ir::ValueId v) { found = found || f.node(v).op == ir::Op::VarLoad || f.node(v).op == ir::Op::VarStore; });
  return found;
}

using PassFn = void (*)(ir::Module&, const Options&);

const std::map<std::string, PassFn>& scalar_passes() {
  static const std::map<std::string, PassFn> table = {
      {"inline_calls", passes::inline_calls}, {"fold", passes::fold},         {"reduce_strength", passes::reduce_strength},
      {"cse", passes::cse},                   {"simplify_cfg", passes::simplify_cfg},
      {"forward_tape", passes::forward_tape}, {"forward_fill", passes::forward_fill},
      {"licm", passes::licm},                 {"dce", passes::dce},
      {"reorder_loops", passes::reorder_loops},
  };
  return table;
}

void run_pass(ir::Module& m, const std::string& name, const Options& opts) {
  if (name == "default") {
    m = passes::run_pipeline(std::move(m), opts);
    return;
  }
  if (name == "promote_variables") {
    m = passes::promote_variables(m);
    return;
  }
  if (has_variables(m))
    throw UsageError("pass '" + name + "' needs promoted IR (no var.load / var.store): run promote_variables first, "
                     "e.g. --passes=promote_variables," + name);
  if (name == "lower_tensors") {
    lower::lower_tensors(m, {.gemm_min_work = opts.fast_math && opts.passes.gemm ? lower::fast_math_gemm_min_work : 0});
    return;
  }
  if (name == "compact") {
    for (ir::Function& f : m.functions) passes::compact(f);
    return;
  }
  auto it = scalar_passes().find(name);
  if (it == scalar_passes().end())
    throw UsageError("unknown pass '" + name + "' (kiln-opt --help lists them)");
  it->second(m, opts);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

// "--grad=0,2" -> {0, 2}; "--grad" -> every floating-point parameter.
std::vector<size_t> wrt_of(const std::string& value, const ir::Module& m) {
  std::vector<size_t> wrt;
  if (!value.empty()) {
    for (const std::string& s : split(value, ',')) {
      size_t end = 0;
      unsigned long i = 0;
      try {
        i = std::stoul(s, &end);
      } catch (const std::exception&) {
        end = 0;
      }
      if (end != s.size()) throw UsageError("expected parameter indices like 0,2, got '" + value + "'");
      wrt.push_back(i);
    }
    return wrt;
  }
  const ir::Function& entry = m.functions.at(0);
  for (size_t i = 0; i < entry.params().size(); ++i) {
    ir::Scalar e = entry.type(entry.params()[i]).elem;
    if (e == ir::Scalar::f32 || e == ir::Scalar::f64) wrt.push_back(i);
  }
  return wrt;
}

void require_promoted(const ir::Module& m, const std::string& what) {
  if (has_variables(m))
    throw UsageError(what + " needs promoted IR (no var.load / var.store): add --passes=promote_variables "
                     "(or --passes=default)");
}

void require_lowered(const ir::Module& m, const std::string& what) {
  require_promoted(m, what);
  if (lower::has_tensor_ops(m))
    throw UsageError(what + " needs IR without tensor ops: add --passes=lower_tensors (or --passes=default)");
}

std::string read_input(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read '" + path + "': " + std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), {}};
}

int run(int argc, char** argv) {
  std::string input = "-", emit = "ir", backend, output;
  std::vector<std::string> args;
  bool input_given = false;
  struct Action {
    std::string kind, value;
  };
  std::vector<Action> actions;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value_of = [&](const std::string& flag) -> std::optional<std::string> {
      if (a == flag) return std::string();
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      return 0;
    }
    if (auto v = value_of("--passes")) {
      if (v->empty()) throw UsageError("--passes needs a list: --passes=cse,dce");
      for (const std::string& p : split(*v, ',')) actions.push_back({"pass", p});
    } else if (auto g = value_of("--grad")) {
      actions.push_back({"grad", *g});
    } else if (auto j = value_of("--jvp")) {
      actions.push_back({"jvp", *j});
    } else if (auto vj = value_of("--vjp")) {
      actions.push_back({"vjp", *vj});
    } else if (a == "--fast-math") {
      actions.push_back({"fast_math", ""});
    } else if (auto e = value_of("--emit")) {
      emit = *e;
    } else if (auto r = value_of("--run")) {
      backend = *r;
    } else if (auto arg = value_of("--arg")) {
      args.push_back(*arg);
    } else if (a == "-o" && i + 1 < argc) {
      output = argv[++i];
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      throw UsageError("unknown option '" + a + "' (kiln-opt --help)");
    } else if (input_given) {
      throw UsageError("more than one input file ('" + input + "', '" + a + "')");
    } else {
      input = a;
      input_given = true;
    }
  }

  ir::Module m = ir::parse(read_input(input), input == "-" ? "<stdin>" : input);
  Options opts;
  for (const Action& act : actions) {
    std::string stage = act.kind == "pass" ? act.value : "--" + act.kind;
    if (act.kind == "fast_math") {
      opts.fast_math = true;
      continue;
    }
    if (act.kind == "pass") {
      run_pass(m, act.value, opts);
    } else {
      require_promoted(m, "--" + act.kind);
      autodiff::require_unlowered(m, ("kiln-opt --" + act.kind).c_str());
      const std::vector<size_t> wrt = wrt_of(act.value, m);
      if (act.kind == "jvp") m = autodiff::jvp(m, wrt);
      if (act.kind == "grad") m = autodiff::reverse(m, wrt, autodiff::ReverseMode::grad);
      if (act.kind == "vjp") m = autodiff::reverse(m, wrt, autodiff::ReverseMode::vjp);
    }
    ir::verify(m, stage, {.allow_variables = has_variables(m)});
  }

  std::string out;
  if (!backend.empty()) {
    out = run_entry(m, backend, args, opts);
  } else if (emit == "ir") {
    out = ir::print(m);
  } else if (emit == "cpp") {
    require_lowered(m, "--emit=cpp");
    out = emit::emit_cpp(m);
  } else if (emit == "cuda") {
    require_lowered(m, "--emit=cuda");
    out = emit::emit_cuda(m).source;
  } else if (emit == "llvm") {
#ifdef KILN_OPT_HAVE_LLVM
    require_lowered(m, "--emit=llvm");
    out = llvm_backend::llvm_ir(m, opts);
#else
    throw UsageError("--emit=llvm: this kiln was built without LLVM");
#endif
  } else if (emit == "dot") {
    out = ir::print_dot(m);
  } else {
    throw UsageError("unknown --emit kind '" + emit + "' (ir, cpp, cuda, llvm, dot)");
  }
  if (output.empty()) {
    std::cout << out;
    return 0;
  }
  std::ofstream file(output, std::ios::binary);
  file << out;
  if (!file) throw UsageError("cannot write '" + output + "'");
  return 0;
}

}  // namespace
}  // namespace kiln::opt

int main(int argc, char** argv) {
  try {
    return kiln::opt::run(argc, argv);
  } catch (const kiln::ir::ParseError& e) {
    std::cerr << e.what() << "\n";  // already "file:line:column: ..."
  } catch (const kiln::InternalError& e) {
    std::cerr << "kiln-opt: internal error (a kiln bug): " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "kiln-opt: " << e.what() << "\n";
  }
  return 1;
}
