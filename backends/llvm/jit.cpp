// The LLVM side of the backend: target machine, O3 pipeline, object
// emission, and ORC. Kept in one file because the ORC and PassBuilder
// headers are slow to compile.
#include "jit.h"
#include "llvm_backend.h"
#include "lower.h"

#include <kiln/error.h>

#include "../../codegen/ir/dump.h"
#include "../runtime/gemm.h"
#include "../runtime/scratch.h"
#include "../runtime/tape.h"
#include "../runtime/thread_pool.h"
#include "../runtime/trap.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/CodeGen/MachineModuleInfo.h>
#include <llvm/CodeGen/Passes.h>
#include <llvm/CodeGen/TargetPassConfig.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/IPO/AlwaysInliner.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/IndVarSimplify.h>
#include <llvm/Transforms/Scalar/LICM.h>
#include <llvm/Transforms/Scalar/LoopDeletion.h>
#include <llvm/Transforms/Scalar/LoopLoadElimination.h>
#include <llvm/Transforms/Scalar/LoopPassManager.h>
#include <llvm/Transforms/Scalar/LoopRotation.h>
#include <llvm/Transforms/Scalar/LoopUnrollPass.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Transforms/Vectorize/LoopVectorize.h>
#include <llvm/Transforms/Vectorize/SLPVectorizer.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/InjectTLIMappings.h>

#include <atomic>
#include <iostream>
#include <mutex>

namespace kiln::llvm_backend {
namespace {

namespace L = ::llvm;
namespace orc = ::llvm::orc;

void initialise() {
  static std::once_flag once;
  std::call_once(once, [] {
    L::InitializeNativeTarget();
    L::InitializeNativeTargetAsmPrinter();
    L::InitializeNativeTargetAsmParser();
  });
}

std::string message_of(L::Error e) { return L::toString(std::move(e)); }

orc::JITTargetMachineBuilder host_builder() {
  initialise();
  auto jtmb = orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw CompileError("LLVM cannot describe this CPU: " + message_of(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(L::CodeGenOptLevel::Aggressive);
  // JITLink links each object into one slab, so PC-relative addressing
  // reaches the object's constants, and calls that leave the object go
  // through stubs it makes. Left unset, a JIT target machine on x86-64 uses
  // the large code model: every constant's address is materialised with a
  // movabs into a general register, which in a long loop body means
  // register shuffles and spills, and a register allocator that takes a
  // third of the compile (measured in docs/llvm.md).
  jtmb->setCodeModel(L::CodeModel::Small);
  jtmb->setRelocationModel(L::Reloc::PIC_);
  return std::move(*jtmb);
}

// The compiling thread's target machine. Creating one costs about 0.4 ms
// (and its first subtarget more); one may not be shared between threads
// (it caches subtargets unguarded), so each thread that compiles keeps its
// own.
L::TargetMachine& thread_machine() {
  thread_local std::unique_ptr<L::TargetMachine> machine;
  if (!machine) {
    auto tm = host_builder().createTargetMachine();
    if (!tm) throw CompileError("LLVM cannot create a target machine for this CPU: " + message_of(tm.takeError()));
    machine = std::move(*tm);
  }
  return *machine;
}

// kiln's IR reaches LLVM already optimised: small and single-use calls
// inlined, common subexpressions merged, invariants hoisted, constants
// folded, dead code gone (codegen/passes). What LLVM adds is what needs the
// machine or LLVM's own view: canonical loops, vectorisation, unrolling,
// instruction combining. So instead of the O3 pipeline (about ninety passes,
// most finding nothing to do here: 2 ms on a 20-op kernel) this one runs
// the passes that matter for kiln's lowering, in O3's order. Measured on
// bench/ (docs/llvm.md): compiles a quarter faster, run times unchanged on
// every kernel.
// The library calls that vectorise under fast_math: LLVM's table of glibc's
// libmvec (exp, log, sin, cos, tan, pow; SSE and AVX2 variants), plus tanh,
// which libmvec has had since glibc 2.35 and LLVM 19's table lacks. The AVX2
// variants ("d") only when the CPU has AVX2, or a vectoriser choosing eight
// floats on a narrower machine would call code it cannot run.
// Under fast_math on a CPU with AVX-512, loops vectorise 512 bits wide
// (LLVM's x86 default prefers 256) and call libmvec's AVX-512 variants.
// Measured on the Sapphire Rapids development machine (docs/llvm.md): the
// small MLP's training step 135 -> 119 us, its forward pass 52 -> 37 us
// (tanhf 16 lanes a call), memory-bound kernels unchanged within noise.
bool wide_vectors(const L::TargetMachine& tm) { return tm.getTargetFeatureString().contains("+avx512f"); }

L::TargetLibraryInfoImpl vector_math_info(const L::TargetMachine& tm) {
  const L::Triple& triple = tm.getTargetTriple();
  L::TargetLibraryInfoImpl tlii(triple);
  if (!triple.isX86() || !triple.isArch64Bit()) return tlii;
  tlii.addVectorizableFunctionsFromVecLib(L::TargetLibraryInfoImpl::LIBMVEC_X86, triple);
  static const L::VecDesc tanh_sse[] = {
      {"tanh", "_ZGVbN2v_tanh", L::ElementCount::getFixed(2), false, "_ZGV_LLVM_N2v"},
      {"tanhf", "_ZGVbN4v_tanhf", L::ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"},
  };
  static const L::VecDesc tanh_avx2[] = {
      {"tanh", "_ZGVdN4v_tanh", L::ElementCount::getFixed(4), false, "_ZGV_LLVM_N4v"},
      {"tanhf", "_ZGVdN8v_tanhf", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
  };
  tlii.addVectorizableFunctions(tanh_sse);
  if (tm.getTargetFeatureString().contains("+avx2")) tlii.addVectorizableFunctions(tanh_avx2);
  // libmvec's AVX-512 variants ("e"), which LLVM 19's table lacks: used when
  // the vectoriser picks 512-bit vectors (wide_vectors()).
  static const L::VecDesc avx512[] = {
      {"expf", "_ZGVeN16v_expf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16v"},
      {"logf", "_ZGVeN16v_logf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16v"},
      {"sinf", "_ZGVeN16v_sinf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16v"},
      {"cosf", "_ZGVeN16v_cosf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16v"},
      {"tanhf", "_ZGVeN16v_tanhf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16v"},
      {"powf", "_ZGVeN16vv_powf", L::ElementCount::getFixed(16), false, "_ZGV_LLVM_N16vv"},
      {"exp", "_ZGVeN8v_exp", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
      {"log", "_ZGVeN8v_log", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
      {"sin", "_ZGVeN8v_sin", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
      {"cos", "_ZGVeN8v_cos", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
      {"tanh", "_ZGVeN8v_tanh", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8v"},
      {"pow", "_ZGVeN8vv_pow", L::ElementCount::getFixed(8), false, "_ZGV_LLVM_N8vv"},
  };
  if (wide_vectors(tm)) tlii.addVectorizableFunctions(avx512);
  return tlii;
}

void optimise(L::Module& m, L::TargetMachine& tm, bool vector_math) {
  L::LoopAnalysisManager lam;
  L::FunctionAnalysisManager fam;
  L::CGSCCAnalysisManager cgam;
  L::ModuleAnalysisManager mam;
  if (vector_math) {
    // Registered before the PassBuilder's defaults, so it wins.
    thread_local const L::TargetLibraryInfoImpl tlii = vector_math_info(tm);
    fam.registerPass([&] { return L::TargetLibraryAnalysis(tlii); });
  }
  L::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  // The target machine gives the vectorisers the CPU's vector width and
  // costs; without it nothing vectorises.
  L::PassBuilder pb(&tm, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);

  // The lowered functions called once (the entry from kiln_call, callees
  // kiln kept out of line for their size) go into their caller.
  for (L::Function& f : m)
    if (!f.isDeclaration() && f.hasLocalLinkage() && f.hasOneUse()) f.addFnAttr(L::Attribute::AlwaysInline);
  L::ModulePassManager mpm;
  mpm.addPass(L::AlwaysInlinerPass());

  L::FunctionPassManager fpm;
  fpm.addPass(L::SROAPass(L::SROAOptions::ModifyCFG));  // parallel_for contexts, inlined arguments
  fpm.addPass(L::EarlyCSEPass(/*UseMemorySSA=*/true));
  fpm.addPass(L::InstCombinePass());
  fpm.addPass(L::SimplifyCFGPass());
  {
    L::LoopPassManager loops;
    loops.addPass(L::LoopRotatePass());
    loops.addPass(L::LICMPass(L::LICMOptions()));  // what inlining exposed; loads promoted across noalias stores
    fpm.addPass(L::createFunctionToLoopPassAdaptor(std::move(loops), /*UseMemorySSA=*/true));
  }
  fpm.addPass(L::SimplifyCFGPass());
  fpm.addPass(L::InstCombinePass());
  {
    L::LoopPassManager loops;
    loops.addPass(L::IndVarSimplifyPass());
    loops.addPass(L::LoopDeletionPass());
    loops.addPass(L::LoopFullUnrollPass(3));  // small constant trip counts (stage-time sizes)
    fpm.addPass(L::createFunctionToLoopPassAdaptor(std::move(loops)));
  }
  // Marks library calls with their vector variants (vector_math_info).
  if (vector_math) fpm.addPass(L::InjectTLIMappings());
  fpm.addPass(L::LoopVectorizePass());
  // A value stored in one iteration and loaded in the next stays in a
  // register (reverse mode's adjoint updates of a stencil, x[i-1] += ...).
  fpm.addPass(L::LoopLoadEliminationPass());
  fpm.addPass(L::EarlyCSEPass());
  fpm.addPass(L::InstCombinePass());
  fpm.addPass(L::SLPVectorizerPass());
  fpm.addPass(L::SimplifyCFGPass(L::SimplifyCFGOptions()
                                     .forwardSwitchCondToPhi(true)
                                     .convertSwitchToLookupTable(true)
                                     .needCanonicalLoops(false)
                                     .hoistCommonInsts(true)
                                     .sinkCommonInsts(true)));
  fpm.addPass(L::InstCombinePass());
  fpm.addPass(L::LoopUnrollPass(L::LoopUnrollOptions(/*OptLevel=*/3, /*OnlyWhenForced=*/false,
                                                     /*ForgetSCEV=*/false)));
  fpm.addPass(L::InstCombinePass());
  {
    L::LoopPassManager loops;
    loops.addPass(L::LICMPass(L::LICMOptions()));  // what vectorising and unrolling left in loops
    fpm.addPass(L::createFunctionToLoopPassAdaptor(std::move(loops), /*UseMemorySSA=*/true));
  }
  mpm.addPass(L::createModuleToFunctionPassAdaptor(std::move(fpm)));
  mpm.run(m, mam);
}

// The code generator's pipeline as TargetMachine::addPassesToEmitFile
// builds it, less early machine LICM. That pass hoists every constant a loop
// uses out of it, into a register for the whole loop: in a long loop body
// (a staged polynomial, an unrolled stencil) more values than registers, so
// the register allocator splits and spills them again, which cost up to a
// fifth of a compile and bought no speed on any kernel of bench/ (the
// vector instructions read constants from memory operands for free, and
// LLVM's IR-level LICM has already hoisted what is invariant).
std::string emit(L::Module& m, L::TargetMachine& machine, L::CodeGenFileType type) {
  auto& tm = static_cast<L::LLVMTargetMachine&>(machine);
  L::SmallVector<char, 0> buffer;
  L::raw_svector_ostream out(buffer);
  L::legacy::PassManager pm;
  auto* mmi = new L::MachineModuleInfoWrapperPass(&tm);  // owned by pm
  L::TargetPassConfig* config = tm.createPassConfig(pm);  // owned by pm
  config->disablePass(&L::EarlyMachineLICMID);
  pm.add(config);
  pm.add(mmi);
  if (config->addISelPasses()) throw CompileError("LLVM cannot select instructions for this CPU");
  config->addMachinePasses();
  config->setInitialized();
  if (tm.addAsmPrinter(pm, out, nullptr, type, mmi->getMMI().getContext()))
    throw CompileError("LLVM cannot emit code for this CPU");
  pm.add(L::createFreeMachineFunctionPass());
  pm.run(m);
  return std::string(buffer.begin(), buffer.end());
}

std::string print(const L::Module& m) {
  std::string text;
  L::raw_string_ostream out(text);
  m.print(out, nullptr);
  return out.str();
}

// The process-wide JIT. Runtime symbols are defined explicitly; everything
// else (the C library's math) resolves against the process.
class Jit {
 public:
  // Never destroyed: kernels held in static caches unload into it at exit.
  static Jit& get() {
    static Jit* jit = new Jit;
    return *jit;
  }

  std::shared_ptr<LoadedObject> load(const std::string& object, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto jd = jit_->createJITDylib("kiln." + name + "." + std::to_string(serial_++));
    if (!jd) throw CompileError("LLVM JIT: " + message_of(jd.takeError()));
    jd->addToLinkOrder(jit_->getMainJITDylib());
    if (auto e = jit_->addObjectFile(*jd, L::MemoryBuffer::getMemBufferCopy(object, name)))
      fail(*jd, "cannot add the object for @" + name + ": " + message_of(std::move(e)));
    auto entry = jit_->lookup(*jd, "kiln_call");
    if (!entry) fail(*jd, "cannot link @" + name + ": " + message_of(entry.takeError()));
    return std::make_shared<LoadedObject>(&*jd, entry->toPtr<LoadedObject::Entry>());
  }

  void unload(void* dylib) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = jit_->getExecutionSession().removeJITDylib(*static_cast<orc::JITDylib*>(dylib)))
      L::consumeError(std::move(e));  // nothing a caller could do; the memory stays mapped
  }

 private:
  Jit() {
    auto jit = orc::LLJITBuilder().setJITTargetMachineBuilder(host_builder()).create();
    if (!jit) throw CompileError("LLVM cannot create its JIT: " + message_of(jit.takeError()));
    jit_ = std::move(*jit);
    orc::JITDylib& main = jit_->getMainJITDylib();
    auto process = orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit_->getDataLayout().getGlobalPrefix());
    if (!process) throw CompileError("LLVM JIT: " + message_of(process.takeError()));
    main.addGenerator(std::move(*process));
    orc::SymbolMap runtime;
    auto& es = jit_->getExecutionSession();
    runtime[es.intern(trap_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_trap), L::JITSymbolFlags::Exported};
    runtime[es.intern(parallel_for_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_parallel_for),
                                                  L::JITSymbolFlags::Exported};
    runtime[es.intern(tape_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_tape), L::JITSymbolFlags::Exported};
    runtime[es.intern(tape_grow_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_tape_grow),
                                            L::JITSymbolFlags::Exported};
    runtime[es.intern(tape_reserve_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_tape_reserve),
                                               L::JITSymbolFlags::Exported};
    runtime[es.intern(tape_release_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_tape_release),
                                               L::JITSymbolFlags::Exported};
    runtime[es.intern(scratch_alloc_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_scratch_alloc),
                                                L::JITSymbolFlags::Exported};
    runtime[es.intern(scratch_free_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_scratch_free),
                                               L::JITSymbolFlags::Exported};
    runtime[es.intern(gemm_f32_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_gemm_f32), L::JITSymbolFlags::Exported};
    runtime[es.intern(gemm_f64_symbol)] = {orc::ExecutorAddr::fromPtr(&kiln_rt_gemm_f64), L::JITSymbolFlags::Exported};
    if (auto e = main.define(orc::absoluteSymbols(std::move(runtime))))
      throw CompileError("LLVM JIT: " + message_of(std::move(e)));
  }

  [[noreturn]] void fail(orc::JITDylib& jd, const std::string& why) {
    L::consumeError(jit_->getExecutionSession().removeJITDylib(jd));
    throw CompileError("LLVM JIT " + why);
  }

  std::mutex mu_;
  std::unique_ptr<orc::LLJIT> jit_;
  uint64_t serial_ = 0;
};

}  // namespace

std::string llvm_version() { return LLVM_VERSION_STRING; }

std::string host_cpu() {
  // Part of every cache key: computed once, not on every compile.
  static const std::string cpu = [] {
    initialise();
    std::string features;
    for (const auto& f : L::sys::getHostCPUFeatures())
      if (f.second) features += (features.empty() ? " +" : ",+") + f.first().str();
    return L::sys::getHostCPUName().str() + features;
  }();
  return cpu;
}

const std::string& vector_math_library() {
  // Loaded with RTLD_GLOBAL, so the JIT's search of the process finds its
  // symbols.
  static const std::string library =
      L::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1") ? "" : "libmvec";
  return library;
}

namespace {
// The host's data layout, triple and CPU on the module and its functions;
// under fast_math, 512-bit vectors where the CPU has them (wide_vectors()).
L::TargetMachine& target_host(L::Module& m, bool fast_math) {
  L::TargetMachine& tm = thread_machine();
  m.setDataLayout(tm.createDataLayout());
  m.setTargetTriple(tm.getTargetTriple().str());
  const bool wide = fast_math && wide_vectors(tm);
  for (L::Function& f : m) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", tm.getTargetCPU());
    f.addFnAttr("target-features", tm.getTargetFeatureString());
    if (wide) f.addFnAttr("prefer-vector-width", "512");
  }
  return tm;
}
}  // namespace

std::string optimised_ir(std::unique_ptr<L::Module> m, bool vector_math) {
  L::TargetMachine& tm = target_host(*m, vector_math);
  optimise(*m, tm, vector_math && !vector_math_library().empty());
  return print(*m);
}

std::string compile_to_object(std::unique_ptr<L::Module> m, const std::string& name, bool vector_math) {
  L::TargetMachine* tm = &target_host(*m, vector_math);
  const bool dump_llvm = ir::dump_requested("llvm");
  if (dump_llvm) std::cerr << "// ---- LLVM IR for @" << name << " before optimisation ----\n" << print(*m);
  optimise(*m, *tm, vector_math && !vector_math_library().empty());
  if (dump_llvm) std::cerr << "// ---- LLVM IR for @" << name << " after optimisation ----\n" << print(*m);
  if (ir::dump_requested("asm")) {
    auto copy = L::CloneModule(*m);
    std::cerr << "// ---- machine code for @" << name << " ----\n" << emit(*copy, *tm, L::CodeGenFileType::AssemblyFile);
  }
  return emit(*m, *tm, L::CodeGenFileType::ObjectFile);
}

LoadedObject::~LoadedObject() { Jit::get().unload(dylib_); }

std::shared_ptr<LoadedObject> load_object(const std::string& object, const std::string& name) {
  return Jit::get().load(object, name);
}

}  // namespace kiln::llvm_backend
