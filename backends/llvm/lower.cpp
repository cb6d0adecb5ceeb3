// kiln IR -> LLVM IR. Every rule of the IR spec (ir.h) is spelt out here,
// because LLVM's defaults differ in places:
// * integer + - * are plain wrapping instructions (no nsw/nuw);
// * sdiv/srem are undefined for a zero divisor and for MIN / -1: a zero
//   divisor branches to the trap, -1 is selected around the division;
// * shift counts are masked to the width; >> is ashr;
// * float -> int uses llvm.fptosi.sat (saturating, NaN -> 0);
// * comparisons of i1 are unsigned (false < true), float != is `une`;
// * exp, log, sin, cos, tanh, pow are calls of the C library marked
//   `nobuiltin`, so LLVM neither folds them with its own arithmetic nor
//   rewrites pow(x, 2) as x*x: results are the C library's, as in the
//   interpreter; sqrt, floor, fabs, fma are intrinsics (exact);
// * no fast-math flags, so no contraction, unless Options::fast_math (which
//   also drops `nobuiltin`, so loops calling the C library can vectorise).
// Loops with a constant step of +1/-1 are plain counted loops (what the
// vectoriser likes); other steps count iterations first, without overflow.
// parallel_for bodies are outlined into `void(ptr ctx, i64 begin, i64 end)`
// and handed to the runtime's thread pool. The module-wide pieces (types,
// runtime declarations) are in lower_module.{h,cpp}.
#include "lower.h"
#include "lower_module.h"

#include <map>

#include <kiln/error.h>

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <unordered_set>

namespace kiln::llvm_backend {
namespace {

using namespace kiln::ir;
using namespace lowering;
namespace L = ::llvm;

// Lowers the regions of one IR function into one LLVM function (the
// function itself, or an outlined parallel_for body).
class FunctionLowerer {
 public:
  FunctionLowerer(ModuleState& st, const Function& f, L::Function* fn)
      : st_(st), f_(f), fn_(fn), b_(st.ctx), val_(f.nodes.size(), nullptr), size_(f.nodes.size(), nullptr),
        tuple_(f.nodes.size()) {
    if (st.opts.fast_math) {
      L::FastMathFlags fmf;
      fmf.setFast();
      b_.setFastMathFlags(fmf);
    }
  }

  // The body of the IR function itself.
  void lower_function() {
    b_.SetInsertPoint(L::BasicBlock::Create(st_.ctx, "entry", fn_));
    auto arg = fn_->arg_begin();
    for (ValueId p : f_.params()) {
      if (f_.type(p).kind == TypeKind::buf) {
        val_[p] = &*arg++;
        size_[p] = &*arg++;
      } else {
        val_[p] = &*arg++;
      }
    }
    std::vector<L::Value*> ys = region(f_.body);
    for (auto [block, bytes] : heap_) b_.CreateCall(st_.scratch_free(), {block, b_.getInt64(bytes)});
    if (ys.empty()) {
      b_.CreateRetVoid();
    } else if (ys.size() == 1) {
      b_.CreateRet(ys[0]);
    } else {
      L::Value* agg = L::UndefValue::get(fn_->getReturnType());
      for (unsigned k = 0; k < ys.size(); ++k) agg = b_.CreateInsertValue(agg, ys[k], {k});
      b_.CreateRet(agg);
    }
  }

  // An outlined parallel_for body: void(ptr ctx, i64 begin, i64 end) runs
  // iterations k in [begin, end) with i = lo + k * step. The context holds
  // lo, step and the captured values, in `captures` order.
  void lower_outlined(const Node& loop, const std::vector<ValueId>& captures, const std::vector<ValueId>& constants,
                      L::StructType* ctx_type) {
    outlined_ = true;
    b_.SetInsertPoint(L::BasicBlock::Create(st_.ctx, "entry", fn_));
    for (ValueId c : constants) val_[c] = constant(f_.node(c));
    auto arg = fn_->arg_begin();
    L::Value* ctx = &*arg++;
    L::Value* begin = &*arg++;
    L::Value* end = &*arg++;
    unsigned field = 0;
    auto load = [&](L::Type* t) {
      return b_.CreateLoad(t, b_.CreateStructGEP(ctx_type, ctx, field++));
    };
    L::Type* it = scalar_type(st_.ctx, f_.type(loop.args[0]).elem);
    L::Value* lo = load(it);
    L::Value* step = load(it);
    for (ValueId c : captures) {
      Type t = f_.type(c);
      if (t.kind == TypeKind::buf) {
        val_[c] = load(L::PointerType::get(st_.ctx, 0));
        size_[c] = load(b_.getInt64Ty());
      } else {
        val_[c] = load(scalar_type(st_.ctx, t.elem));
      }
    }
    const Region& body = f_.region(loop.regions[0]);
    L::BasicBlock* pre = b_.GetInsertBlock();
    L::BasicBlock* header = block("pfor.header");
    L::BasicBlock* body_bb = block("pfor.body");
    L::BasicBlock* exit = block("pfor.exit");
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    L::PHINode* k = b_.CreatePHI(b_.getInt64Ty(), 2, "k");
    k->addIncoming(begin, pre);
    b_.CreateCondBr(b_.CreateICmpSLT(k, end), body_bb, exit);
    b_.SetInsertPoint(body_bb);
    val_[body.params[0]] = index_of(lo, k, step, it);
    region(loop.regions[0]);
    L::Value* next = b_.CreateAdd(k, b_.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
    k->addIncoming(next, b_.GetInsertBlock());
    latch(header);
    b_.SetInsertPoint(exit);
    b_.CreateRetVoid();
  }

 private:
  L::BasicBlock* block(const char* name) { return L::BasicBlock::Create(st_.ctx, name, fn_); }

  // A back edge to `header` carrying the metadata the loop passes read.
  void latch(L::BasicBlock* header) {
    L::BranchInst* br = b_.CreateBr(header);
    L::MDNode* progress = L::MDNode::get(st_.ctx, L::MDString::get(st_.ctx, "llvm.loop.mustprogress"));
    L::MDNode* loop_id = L::MDNode::getDistinct(st_.ctx, {nullptr, progress});
    loop_id->replaceOperandWith(0, loop_id);
    br->setMetadata(L::LLVMContext::MD_loop, loop_id);
  }

  std::vector<L::Value*> region(RegionId r) {
    for (ValueId v : f_.region(r).body) node(v);
    std::vector<L::Value*> ys;
    for (ValueId y : f_.region(r).yields) ys.push_back(val_[y]);
    return ys;
  }

  // This function's pointer to its thread's tape `level`, fetched once in
  // the entry block.
  L::Value* tape_of(int64_t level) {
    auto it = tapes_.find(level);
    if (it != tapes_.end()) return it->second;
    L::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    L::Value* t = entry.CreateCall(st_.tape(), {entry.getInt64(static_cast<uint64_t>(level))}, "tape");
    tapes_.emplace(level, t);
    return t;
  }
  L::Value* tape_field(L::Value* tape, unsigned k) { return b_.CreateStructGEP(st_.tape_type(), tape, k); }

  // data[size++] = word, growing the tape when it is full.
  void tape_push(int64_t level, L::Value* word) {
    L::Value* t = tape_of(level);
    L::Type* i64 = b_.getInt64Ty();
    L::Type* ptr = L::PointerType::get(st_.ctx, 0);
    auto tag = [&](L::Instruction* i, int k) { i->setMetadata(L::LLVMContext::MD_tbaa, st_.tbaa(k)); return i; };
    L::Value* size = tag(b_.CreateLoad(i64, tape_field(t, 1)), 1);
    L::Value* cap = tag(b_.CreateLoad(i64, tape_field(t, 2)), 1);
    L::BasicBlock* grow = block("tape.grow");
    L::BasicBlock* room = block("tape.room");
    b_.CreateCondBr(b_.CreateICmpEQ(size, cap), grow, room, L::MDBuilder(st_.ctx).createBranchWeights(1, 1 << 20));
    b_.SetInsertPoint(grow);
    b_.CreateCall(st_.tape_grow(), {t});
    b_.CreateBr(room);
    b_.SetInsertPoint(room);
    L::Value* data = tag(b_.CreateLoad(ptr, tape_field(t, 0)), 0);
    tag(b_.CreateStore(word, b_.CreateInBoundsGEP(i64, data, size)), 2);
    tag(b_.CreateStore(b_.CreateAdd(size, b_.getInt64(1)), tape_field(t, 1)), 1);
  }

  // data[--size]; an empty tape (a kiln bug) traps.
  L::Value* tape_pop(const Node& n) {
    L::Value* t = tape_of(n.imm);
    L::Type* i64 = b_.getInt64Ty();
    L::Type* ptr = L::PointerType::get(st_.ctx, 0);
    auto tag = [&](L::Instruction* i, int k) { i->setMetadata(L::LLVMContext::MD_tbaa, st_.tbaa(k)); return i; };
    L::Value* size = tag(b_.CreateLoad(i64, tape_field(t, 1)), 1);
    trap_if(b_.CreateICmpSLE(size, b_.getInt64(0)), n, "internal: tape.pop on an empty tape", "report a kiln bug");
    L::Value* last = b_.CreateSub(size, b_.getInt64(1));
    L::Value* data = tag(b_.CreateLoad(ptr, tape_field(t, 0)), 0);
    L::Value* w = tag(b_.CreateLoad(i64, b_.CreateInBoundsGEP(i64, data, last)), 2);
    tag(b_.CreateStore(last, tape_field(t, 1)), 1);
    return w;
  }

  // alloc n: up to 64 KiB, while the function's stack blocks stay within
  // 256 KiB, a stack block in the entry block; otherwise a block of the
  // runtime's per-thread scratch cache (backends/runtime/scratch.h), given
  // back before the function returns. Tensor lowering places every alloc in
  // a function's top region, so each runs once per call. (A trap unwinds
  // past the return: the block of a trapping call leaks.)
  void alloc(ValueId v, const Node& n) {
    if (outlined_) throw InternalError("LLVM lowering: alloc in a parallel_for body of @" + f_.name);
    const uint64_t bytes = std::max<uint64_t>(static_cast<uint64_t>(n.imm) * byte_width(n.type.elem), 1);
    if (bytes <= 65536 && stack_bytes_ + bytes <= 262144) {
      stack_bytes_ += bytes;
      L::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
      L::AllocaInst* a = entry.CreateAlloca(L::ArrayType::get(b_.getInt8Ty(), bytes), nullptr, "scratch");
      a->setAlignment(L::Align(64));
      val_[v] = a;
    } else {
      L::Value* block = b_.CreateCall(st_.scratch_alloc(), {b_.getInt64(bytes)}, "scratch");
      trap_if(b_.CreateICmpEQ(block, L::ConstantPointerNull::get(b_.getPtrTy())), n,
              "out of memory for a tensor temporary of " + std::to_string(bytes) + " bytes",
              "use smaller tensors");
      heap_.emplace_back(block, bytes);
      val_[v] = block;
    }
    size_[v] = b_.getInt64(static_cast<uint64_t>(n.imm));
  }

  // Calls the runtime's trap with the interpreter's message for node n.
  void trap_if(L::Value* condition, const Node& n, const std::string& what, const std::string& remedy) {
    L::BasicBlock* trap_bb = block("trap");
    L::BasicBlock* cont = block("cont");
    b_.CreateCondBr(condition, trap_bb, cont, L::MDBuilder(st_.ctx).createBranchWeights(1, 1 << 20));
    b_.SetInsertPoint(trap_bb);
    std::string message = user_message(what + " in @" + f_.name, n.loc, remedy);
    b_.CreateCall(st_.trap(), {b_.CreateGlobalString(message, "trap.message")});
    b_.CreateUnreachable();
    b_.SetInsertPoint(cont);
  }

  L::Value* constant(const Node& n) {
    L::Type* t = scalar_type(st_.ctx, n.type.elem);
    switch (n.type.elem) {
      case Scalar::i1:
      case Scalar::i32:
      case Scalar::i64: return L::ConstantInt::get(t, static_cast<uint64_t>(const_int(n)), /*isSigned=*/true);
      case Scalar::f32:
        return L::ConstantFP::get(st_.ctx, L::APFloat(L::APFloat::IEEEsingle(), L::APInt(32, static_cast<uint32_t>(n.imm))));
      case Scalar::f64:
        return L::ConstantFP::get(st_.ctx, L::APFloat(L::APFloat::IEEEdouble(), L::APInt(64, static_cast<uint64_t>(n.imm))));
    }
    return nullptr;
  }

  // disjoint a, b: the byte ranges [a, a + size(a) * width) and likewise for
  // b do not overlap, compared as addresses (ptrtoint); an empty one never
  // overlaps, even when its address lies inside the other.
  L::Value* disjoint(const Node& n) {
    L::Value* empty = nullptr;
    L::Value* begin[2];
    L::Value* end[2];
    for (size_t k = 0; k < 2; ++k) {
      const ValueId buf = n.args[k];
      L::Value* count = size_[buf];
      begin[k] = b_.CreatePtrToInt(val_[buf], b_.getInt64Ty(), "disjoint.begin");
      end[k] = b_.CreateAdd(begin[k], b_.CreateMul(count, b_.getInt64(byte_width(f_.type(buf).elem))), "disjoint.end");
      L::Value* none = b_.CreateICmpSLE(count, b_.getInt64(0));
      empty = empty ? b_.CreateOr(empty, none) : none;
    }
    L::Value* apart = b_.CreateOr(b_.CreateICmpULE(end[0], begin[1]), b_.CreateICmpULE(end[1], begin[0]));
    return b_.CreateOr(empty, apart, "disjoint");
  }

  L::Value* element_pointer(const Node& n) {
    Scalar s = f_.type(n.args[0]).elem;
    return b_.CreateInBoundsGEP(memory_type(st_.ctx, s), val_[n.args[0]], val_[n.args[1]]);
  }

  void node(ValueId v) {
    const Node& n = f_.node(v);
    switch (n.op) {
      case Op::Const:
        val_[v] = constant(n);
        return;
      case Op::Param:
        return;  // bound by the owner of its region
      case Op::Size:
        val_[v] = size_[n.args[0]];
        return;
      case Op::Disjoint:
        val_[v] = disjoint(n);
        return;
      case Op::Get:
        val_[v] = tuple_[n.args[0]].at(static_cast<size_t>(n.imm));
        return;
      case Op::Load: {
        Scalar s = n.type.elem;
        L::Value* x = b_.CreateLoad(memory_type(st_.ctx, s), element_pointer(n));
        val_[v] = s == Scalar::i1 ? b_.CreateTrunc(x, b_.getInt1Ty()) : x;
        return;
      }
      case Op::Store: {
        Scalar s = f_.type(n.args[0]).elem;
        L::Value* x = val_[n.args[2]];
        if (s == Scalar::i1) x = b_.CreateZExt(x, b_.getInt8Ty());
        b_.CreateStore(x, element_pointer(n));
        return;
      }
      case Op::TapePush: {
        const Scalar s = f_.type(n.args[0]).elem;
        L::Value* x = val_[n.args[0]];
        if (is_float(s)) x = b_.CreateBitCast(x, b_.getIntNTy(static_cast<unsigned>(bit_width(s))));
        tape_push(n.imm, b_.CreateZExt(x, b_.getInt64Ty()));
        return;
      }
      case Op::TapeReserve:
      case Op::TapeRelease: {
        L::Value* count = val_[n.args[0]];
        const uint64_t width = byte_width(n.type.elem);
        L::Value* words = b_.CreateUDiv(b_.CreateAdd(b_.CreateMul(count, b_.getInt64(width)), b_.getInt64(7)),
                                        b_.getInt64(8));
        val_[v] = b_.CreateCall(st_.tape_block(n.op == Op::TapeReserve), {tape_of(n.imm), words});
        size_[v] = count;
        return;
      }
      case Op::TapePop: {
        const Scalar s = n.type.elem;
        L::Value* w = b_.CreateTrunc(tape_pop(n), b_.getIntNTy(static_cast<unsigned>(bit_width(s))));
        val_[v] = is_float(s) ? b_.CreateBitCast(w, scalar_type(st_.ctx, s)) : w;
        return;
      }
      case Op::Alloc:
        alloc(v, n);
        return;
      case Op::Gemm: {
        const GemmShape g = gemm_shape(n.imm);
        L::Type* et = memory_type(st_.ctx, f_.type(n.args[0]).elem);
        L::Value* a = b_.CreateInBoundsGEP(et, val_[n.args[0]], val_[n.args[1]]);
        L::Value* b = b_.CreateInBoundsGEP(et, val_[n.args[2]], val_[n.args[3]]);
        const int64_t flags = (g.trans_a ? 1 : 0) | (g.trans_b ? 2 : 0);
        b_.CreateCall(st_.gemm(f_.type(n.args[0]).elem), {a, b, val_[n.args[4]], b_.getInt64(g.m), b_.getInt64(g.k),
                                                          b_.getInt64(g.n), b_.getInt64(flags)});
        return;
      }
      case Op::Check: {
        auto [what, remedy] = message(n.imm);
        trap_if(b_.CreateNot(val_[n.args[0]]), n, what, remedy);
        return;
      }
      case Op::Splat: case Op::Iota: case Op::TensorConst: case Op::Broadcast: case Op::Transpose: case Op::Reshape:
      case Op::Slice: case Op::Embed: case Op::ReduceSum: case Op::ReduceMax: case Op::Matmul:
      case Op::TensorLoad: case Op::TensorStore:
        throw InternalError("LLVM lowering met " + std::string(info(n.op).spelling) +
                            ": tensor ops must be lowered (codegen/lower) before code generation");
      case Op::Call:
        call(v, n);
        return;
      case Op::If:
        if_(v, n);
        return;
      case Op::For:
        for_(v, n);
        return;
      case Op::While:
        while_(v, n);
        return;
      case Op::ParallelFor:
        parallel_for(n);
        return;
      case Op::VarLoad:
      case Op::VarStore:
        throw InternalError("LLVM lowering met " + std::string(info(n.op).spelling) +
                            ": variables must be promoted before code generation");
      case Op::Neg: case Op::Abs: case Op::Not: case Op::Sqrt: case Op::Exp: case Op::Log:
      case Op::Sin: case Op::Cos: case Op::Tanh: case Op::Floor: case Op::Cast: case Op::Add:
      case Op::Sub: case Op::Mul: case Op::Div: case Op::Rem: case Op::Min: case Op::Max:
      case Op::Pow: case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      case Op::Fma: case Op::Select:
        val_[v] = scalar(n);
        return;
    }
  }

  L::Value* intrinsic(L::Intrinsic::ID id, L::Type* t, std::vector<L::Value*> args) {
    return b_.CreateIntrinsic(id, {t}, args);
  }

  L::Value* libcall(Op op, Scalar s, std::vector<L::Value*> args) {
    L::CallInst* c = b_.CreateCall(st_.libm(op, s), args);
    // Under fast_math LLVM may treat it as the library function it names:
    // fold it, and vectorise it into a vector library's variant (jit.cpp).
    if (!st_.opts.fast_math) c->addFnAttr(L::Attribute::NoBuiltin);
    return c;
  }

  // A float min/max operand, or a float value entering a phi (a loop's
  // initial value, an if's result). Without fast_math a constant is
  // replaced by an opaque copy of itself, made once per function at entry:
  // LLVM 19's InstCombine folds a nested min/max of one constant, e.g.
  // min(0.0, min(p, 0.0)) -> min(p, 0.0), as if a tie between -0.0 and 0.0,
  // or a NaN against the constant, could keep either operand; kiln's min
  // keeps the first (kiln-fuzz seed 258542). A constant that reaches a
  // min/max through a phi does the same once LLVM unrolls or peels the loop
  // (two accumulators starting at 0.0, min'd into each other: the test
  // "... through a loop's initial values"), hence the phis. The copy is a
  // register value to LLVM, so the compare-and-select still becomes
  // vminps/vmaxps and still vectorises; only the unsound fold loses sight of
  // the constant.
  L::Value* opaque_constant(L::Value* x) {
    auto* c = L::dyn_cast<L::ConstantFP>(x);
    if (!c || st_.opts.fast_math) return x;
    const L::APInt bits = c->getValueAPF().bitcastToAPInt();
    auto [it, fresh] = opaque_.try_emplace({bits.getBitWidth(), bits.getZExtValue()}, nullptr);
    if (!fresh) return it->second;
    L::BasicBlock& entry = fn_->getEntryBlock();
    L::IRBuilder<> eb(&entry, entry.getFirstInsertionPt());
    L::Type* it_type = eb.getIntNTy(bits.getBitWidth());
    auto* asm_fn = L::InlineAsm::get(L::FunctionType::get(it_type, {it_type}, false), "", "=r,0",
                                     /*hasSideEffects=*/false);
    L::Value* raw = eb.CreateCall(asm_fn, {L::ConstantInt::get(it_type, bits)}, "opaque");
    return it->second = eb.CreateBitCast(raw, x->getType());
  }

  L::Value* scalar(const Node& n) {
    const Scalar s = n.op == Op::Select ? f_.type(n.args[1]).elem : f_.type(n.args[0]).elem;
    const bool fl = is_float(s);
    L::Type* t = scalar_type(st_.ctx, s);
    auto a = [&](size_t i) { return val_[n.args[i]]; };
    switch (n.op) {
      case Op::Neg: return fl ? b_.CreateFNeg(a(0)) : b_.CreateSub(L::ConstantInt::get(t, 0), a(0));
      case Op::Abs:
        if (fl) return intrinsic(L::Intrinsic::fabs, t, {a(0)});
        return b_.CreateSelect(b_.CreateICmpSLT(a(0), L::ConstantInt::get(t, 0)),
                               b_.CreateSub(L::ConstantInt::get(t, 0), a(0)), a(0));
      case Op::Not: return b_.CreateNot(a(0));
      case Op::Sqrt: return intrinsic(L::Intrinsic::sqrt, t, {a(0)});
      case Op::Floor: return intrinsic(L::Intrinsic::floor, t, {a(0)});
      case Op::Exp: case Op::Log: case Op::Sin: case Op::Cos: case Op::Tanh: return libcall(n.op, s, {a(0)});
      case Op::Pow: return libcall(n.op, s, {a(0), a(1)});
      case Op::Add: return fl ? b_.CreateFAdd(a(0), a(1)) : b_.CreateAdd(a(0), a(1));
      case Op::Sub: return fl ? b_.CreateFSub(a(0), a(1)) : b_.CreateSub(a(0), a(1));
      case Op::Mul: return fl ? b_.CreateFMul(a(0), a(1)) : b_.CreateMul(a(0), a(1));
      case Op::Div: return fl ? b_.CreateFDiv(a(0), a(1)) : divide(n, a(0), a(1), false);
      case Op::Rem: return fl ? b_.CreateFRem(a(0), a(1)) : divide(n, a(0), a(1), true);
      case Op::Min: {
        L::Value* x = opaque_constant(a(0));
        L::Value* y = opaque_constant(a(1));
        return b_.CreateSelect(fl ? b_.CreateFCmpOLT(y, x) : b_.CreateICmpSLT(y, x), y, x);
      }
      case Op::Max: {
        L::Value* x = opaque_constant(a(0));
        L::Value* y = opaque_constant(a(1));
        return b_.CreateSelect(fl ? b_.CreateFCmpOLT(x, y) : b_.CreateICmpSLT(x, y), y, x);
      }
      case Op::And: return b_.CreateAnd(a(0), a(1));
      case Op::Or: return b_.CreateOr(a(0), a(1));
      case Op::Xor: return b_.CreateXor(a(0), a(1));
      case Op::Shl: return b_.CreateShl(a(0), b_.CreateAnd(a(1), L::ConstantInt::get(t, bit_width(s) - 1)));
      case Op::Shr: return b_.CreateAShr(a(0), b_.CreateAnd(a(1), L::ConstantInt::get(t, bit_width(s) - 1)));
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
        return compare(n.op, s, a(0), a(1));
      case Op::Fma: return intrinsic(L::Intrinsic::fma, t, {a(0), a(1), a(2)});
      case Op::Select: return b_.CreateSelect(a(0), a(1), a(2));
      case Op::Cast: return cast(s, n.type.elem, a(0));
      default: break;
    }
    throw InternalError("LLVM lowering: '" + std::string(info(n.op).spelling) + "' is not a scalar op");
  }

  L::Value* compare(Op op, Scalar s, L::Value* x, L::Value* y) {
    using P = L::CmpInst::Predicate;
    if (is_float(s)) {
      // != is true for NaN operands (unordered); the others are ordered.
      P p = op == Op::Eq ? P::FCMP_OEQ : op == Op::Ne ? P::FCMP_UNE : op == Op::Lt ? P::FCMP_OLT
          : op == Op::Le ? P::FCMP_OLE : op == Op::Gt ? P::FCMP_OGT : P::FCMP_OGE;
      return b_.CreateFCmp(p, x, y);
    }
    // i1 orders false < true: unsigned; integers are signed.
    const bool u = s == Scalar::i1;
    P p = op == Op::Eq ? P::ICMP_EQ : op == Op::Ne ? P::ICMP_NE
        : op == Op::Lt ? (u ? P::ICMP_ULT : P::ICMP_SLT) : op == Op::Le ? (u ? P::ICMP_ULE : P::ICMP_SLE)
        : op == Op::Gt ? (u ? P::ICMP_UGT : P::ICMP_SGT) : (u ? P::ICMP_UGE : P::ICMP_SGE);
    return b_.CreateICmp(p, x, y);
  }

  // Integer division and remainder with the IR's rules: a zero divisor
  // traps, MIN / -1 is MIN (wraps) and MIN % -1 is 0.
  L::Value* divide(const Node& n, L::Value* x, L::Value* y, bool rem) {
    if (auto* c = L::dyn_cast<L::ConstantInt>(y); c && !c->isZero() && !c->isMinusOne())
      return rem ? b_.CreateSRem(x, y) : b_.CreateSDiv(x, y);
    L::Type* t = y->getType();
    trap_if(b_.CreateICmpEQ(y, L::ConstantInt::get(t, 0)), n, rem ? "integer remainder by zero" : "integer division by zero",
            "guard the divisor, e.g. with kiln::if_(d != 0, ...)");
    L::Value* minus_one = b_.CreateICmpEQ(y, L::ConstantInt::getSigned(t, -1));
    L::Value* safe = b_.CreateSelect(minus_one, L::ConstantInt::get(t, 1), y);
    L::Value* q = rem ? b_.CreateSRem(x, safe) : b_.CreateSDiv(x, safe);
    L::Value* special = rem ? L::ConstantInt::get(t, 0) : b_.CreateSub(L::ConstantInt::get(t, 0), x);
    return b_.CreateSelect(minus_one, special, q);
  }

  L::Value* cast(Scalar from, Scalar to, L::Value* x) {
    if (from == to) return x;
    L::Type* t = scalar_type(st_.ctx, to);
    if (to == Scalar::i1)
      return is_float(from) ? b_.CreateFCmpUNE(x, L::ConstantFP::get(x->getType(), 0.0))
                            : b_.CreateICmpNE(x, L::ConstantInt::get(x->getType(), 0));
    if (from == Scalar::i1) return is_float(to) ? b_.CreateUIToFP(x, t) : b_.CreateZExt(x, t);
    if (!is_float(from) && !is_float(to)) return b_.CreateSExtOrTrunc(x, t);
    if (!is_float(from)) return b_.CreateSIToFP(x, t);
    if (!is_float(to)) return b_.CreateIntrinsic(L::Intrinsic::fptosi_sat, {t, x->getType()}, {x});
    return to == Scalar::f64 ? b_.CreateFPExt(x, t) : b_.CreateFPTrunc(x, t);
  }

  void call(ValueId v, const Node& n) {
    const size_t callee_index = static_cast<size_t>(n.imm);
    const Function& callee = st_.m.functions.at(callee_index);
    std::vector<L::Value*> args;
    for (ValueId a : n.args) {
      args.push_back(val_[a]);
      if (f_.type(a).kind == TypeKind::buf) args.push_back(size_[a]);
    }
    L::Value* r = b_.CreateCall(st_.functions.at(callee_index), args);
    const size_t k = callee.result_types.size();
    if (k == 1) tuple_[v] = {r};
    for (unsigned i = 0; k > 1 && i < k; ++i) tuple_[v].push_back(b_.CreateExtractValue(r, {i}));
  }

  void if_(ValueId v, const Node& n) {
    L::BasicBlock* then_bb = block("if.then");
    L::BasicBlock* else_bb = block("if.else");
    L::BasicBlock* merge = block("if.end");
    b_.CreateCondBr(val_[n.args[0]], then_bb, else_bb);
    b_.SetInsertPoint(then_bb);
    std::vector<L::Value*> then_ys = region(n.regions[0]);
    L::BasicBlock* then_end = b_.GetInsertBlock();
    b_.CreateBr(merge);
    b_.SetInsertPoint(else_bb);
    std::vector<L::Value*> else_ys = region(n.regions[1]);
    L::BasicBlock* else_end = b_.GetInsertBlock();
    b_.CreateBr(merge);
    b_.SetInsertPoint(merge);
    for (size_t k = 0; k < then_ys.size(); ++k) {
      L::PHINode* phi = b_.CreatePHI(then_ys[k]->getType(), 2);
      phi->addIncoming(opaque_constant(then_ys[k]), then_end);
      phi->addIncoming(opaque_constant(else_ys[k]), else_end);
      tuple_[v].push_back(phi);
    }
  }

  // i = lo + k * step in the loop's index type (wrapping; always in range).
  L::Value* index_of(L::Value* lo, L::Value* k, L::Value* step, L::Type* it) {
    return b_.CreateAdd(lo, b_.CreateMul(b_.CreateTrunc(k, it), step));
  }

  // Iterations of `for (i = lo; step > 0 ? i < hi : i > hi; i += step)`, as
  // an unsigned i64, counted without overflow; a zero step traps.
  L::Value* trip_count(const Node& n, L::Value* lo, L::Value* hi, L::Value* step) {
    L::Type* i64 = b_.getInt64Ty();
    trap_if(b_.CreateICmpEQ(step, L::ConstantInt::get(step->getType(), 0)), n, "loop step is zero",
            "use a positive step to count up or a negative one to count down");
    L::Value* l = b_.CreateSExt(lo, i64);
    L::Value* h = b_.CreateSExt(hi, i64);
    L::Value* s = b_.CreateSExt(step, i64);
    L::Value* one = b_.getInt64(1);
    L::Value* zero = b_.getInt64(0);
    L::Value* up = b_.CreateICmpSGT(s, zero);
    L::Value* up_trips = b_.CreateSelect(b_.CreateICmpSLT(l, h),
                                         b_.CreateAdd(b_.CreateUDiv(b_.CreateSub(b_.CreateSub(h, l), one), s), one), zero);
    L::Value* down_trips = b_.CreateSelect(
        b_.CreateICmpSGT(l, h), b_.CreateAdd(b_.CreateUDiv(b_.CreateSub(b_.CreateSub(l, h), one), b_.CreateSub(zero, s)), one),
        zero);
    return b_.CreateSelect(up, up_trips, down_trips);
  }

  void for_(ValueId v, const Node& n) {
    const Region& body = f_.region(n.regions[0]);
    L::Value* lo = val_[n.args[0]];
    L::Value* hi = val_[n.args[1]];
    L::Value* step = val_[n.args[2]];
    L::Type* it = lo->getType();
    const auto* cstep = L::dyn_cast<L::ConstantInt>(step);
    const int unit = cstep && cstep->isOne() ? 1 : cstep && cstep->isMinusOne() ? -1 : 0;
    L::Value* trips = unit ? nullptr : trip_count(n, lo, hi, step);
    L::BasicBlock* pre = b_.GetInsertBlock();
    L::BasicBlock* header = block("for.header");
    L::BasicBlock* body_bb = block("for.body");
    L::BasicBlock* exit = block("for.exit");
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    L::PHINode* counter = b_.CreatePHI(unit ? it : b_.getInt64Ty(), 2, unit ? "i" : "k");
    counter->addIncoming(unit ? lo : b_.getInt64(0), pre);
    std::vector<L::PHINode*> carried;
    for (size_t k = 3; k < n.args.size(); ++k) {
      carried.push_back(b_.CreatePHI(val_[n.args[k]]->getType(), 2));
      carried.back()->addIncoming(opaque_constant(val_[n.args[k]]), pre);
    }
    L::Value* more = unit == 1 ? b_.CreateICmpSLT(counter, hi)
                   : unit == -1 ? b_.CreateICmpSGT(counter, hi) : b_.CreateICmpULT(counter, trips);
    b_.CreateCondBr(more, body_bb, exit);
    b_.SetInsertPoint(body_bb);
    val_[body.params[0]] = unit ? counter : index_of(lo, counter, step, it);
    for (size_t k = 0; k < carried.size(); ++k) val_[body.params[k + 1]] = carried[k];
    std::vector<L::Value*> ys = region(n.regions[0]);
    // i < hi <= MAX (or i > hi >= MIN): the next index cannot overflow.
    L::Value* next = unit ? b_.CreateAdd(counter, L::ConstantInt::getSigned(it, unit), "", false, /*HasNSW=*/true)
                          : b_.CreateAdd(counter, b_.getInt64(1), "", /*HasNUW=*/true);
    L::BasicBlock* end = b_.GetInsertBlock();
    counter->addIncoming(next, end);
    for (size_t k = 0; k < carried.size(); ++k) carried[k]->addIncoming(ys[k], end);
    latch(header);
    b_.SetInsertPoint(exit);
    tuple_[v].assign(carried.begin(), carried.end());
  }

  void while_(ValueId v, const Node& n) {
    const Region& cond = f_.region(n.regions[0]);
    const Region& body = f_.region(n.regions[1]);
    L::BasicBlock* pre = b_.GetInsertBlock();
    L::BasicBlock* header = block("while.cond");
    L::BasicBlock* body_bb = block("while.body");
    L::BasicBlock* exit = block("while.end");
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    std::vector<L::PHINode*> carried;
    for (size_t k = 0; k < n.args.size(); ++k) {
      carried.push_back(b_.CreatePHI(val_[n.args[k]]->getType(), 2));
      carried.back()->addIncoming(opaque_constant(val_[n.args[k]]), pre);
      val_[cond.params[k]] = carried.back();
    }
    std::vector<L::Value*> c = region(n.regions[0]);
    b_.CreateCondBr(c[0], body_bb, exit);
    b_.SetInsertPoint(body_bb);
    for (size_t k = 0; k < body.params.size(); ++k) val_[body.params[k]] = c[k + 1];
    std::vector<L::Value*> ys = region(n.regions[1]);
    L::BasicBlock* end = b_.GetInsertBlock();
    for (size_t k = 0; k < carried.size(); ++k) carried[k]->addIncoming(ys[k], end);
    latch(header);
    b_.SetInsertPoint(exit);
    tuple_[v].assign(c.begin() + 1, c.end());
  }

  // Values the loop's regions use but do not define. Constants are listed
  // in `constants`, not captured: the outlined body makes its own, so they
  // stay constants there (trip counts, strides) for LLVM to see.
  std::vector<ValueId> free_values(const Node& loop, std::vector<ValueId>& constants) {
    std::unordered_set<ValueId> inside;
    std::vector<RegionId> stack(loop.regions.begin(), loop.regions.end());
    std::vector<RegionId> all;
    while (!stack.empty()) {
      RegionId r = stack.back();
      stack.pop_back();
      all.push_back(r);
      for (ValueId p : f_.region(r).params) inside.insert(p);
      for (ValueId x : f_.region(r).body) {
        inside.insert(x);
        for (RegionId c : f_.node(x).regions) stack.push_back(c);
      }
    }
    std::vector<ValueId> out;
    std::unordered_set<ValueId> seen;
    auto use = [&](ValueId x) {
      if (inside.count(x) || !seen.insert(x).second) return;
      (f_.node(x).op == Op::Const ? constants : out).push_back(x);
    };
    for (RegionId r : all) {
      for (ValueId x : f_.region(r).body)
        for (ValueId a : f_.node(x).args) use(a);
      for (ValueId y : f_.region(r).yields) use(y);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void parallel_for(const Node& n) {
    L::Value* lo = val_[n.args[0]];
    L::Value* hi = val_[n.args[1]];
    L::Value* step = val_[n.args[2]];
    L::Value* trips = trip_count(n, lo, hi, step);
    std::vector<ValueId> constants;
    const std::vector<ValueId> captures = free_values(n, constants);
    std::vector<L::Type*> fields = {lo->getType(), step->getType()};
    std::vector<L::Value*> values = {lo, step};
    for (ValueId c : captures) {
      values.push_back(val_[c]);
      fields.push_back(val_[c]->getType());
      if (f_.type(c).kind == TypeKind::buf) {
        values.push_back(size_[c]);
        fields.push_back(b_.getInt64Ty());
      }
    }
    L::StructType* ctx_type = L::StructType::get(st_.ctx, fields);
    // The context lives in the caller's frame: allocas go in the entry block.
    L::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    L::Value* ctx = entry.CreateAlloca(ctx_type, nullptr, "pfor.ctx");
    for (unsigned k = 0; k < values.size(); ++k) b_.CreateStore(values[k], b_.CreateStructGEP(ctx_type, ctx, k));

    L::Type* i64 = b_.getInt64Ty();
    L::Type* ptr = L::PointerType::get(st_.ctx, 0);
    auto* body_fn = L::Function::Create(L::FunctionType::get(b_.getVoidTy(), {ptr, i64, i64}, false),
                                        L::GlobalValue::InternalLinkage,
                                        "kiln.fn." + f_.name + ".parallel_for." + std::to_string(st_.outlined++), st_.lm);
    body_fn->setDoesNotThrow();
    FunctionLowerer(st_, f_, body_fn).lower_outlined(n, captures, constants, ctx_type);
    b_.CreateCall(st_.parallel_for(), {trips, body_fn, ctx});
  }

  ModuleState& st_;
  const Function& f_;
  L::Function* fn_;
  L::IRBuilder<> b_;
  std::vector<L::Value*> val_;   // per value; the pointer for a buffer
  std::vector<L::Value*> size_;  // per buffer value: its size
  std::vector<std::vector<L::Value*>> tuple_;
  std::vector<std::pair<L::Value*, uint64_t>> heap_;  // alloc's scratch blocks and sizes, given back at the return
  uint64_t stack_bytes_ = 0;                             // alloc's stack blocks so far
  bool outlined_ = false;        // lowering a parallel_for body
  std::map<std::pair<unsigned, uint64_t>, L::Value*> opaque_;  // opaque_constant's copies, by bits
  std::map<int64_t, L::Value*> tapes_;  // tape level -> this function's tape pointer
};

// void kiln_call(const Slot* args, Slot* results): unpacks kiln's 16-byte
// argument slots (value at offset 0, buffer size at 8), calls the entry
// function, packs the results (integers sign-extended, i1 as 0/1).
void lower_entry(ModuleState& st) {
  L::LLVMContext& c = st.ctx;
  const Function& f = st.m.functions.at(0);
  L::Type* ptr = L::PointerType::get(c, 0);
  L::Type* i8 = L::Type::getInt8Ty(c);
  L::Type* i64 = L::Type::getInt64Ty(c);
  auto* fn = L::Function::Create(L::FunctionType::get(L::Type::getVoidTy(c), {ptr, ptr}, false),
                                 L::GlobalValue::ExternalLinkage, entry_symbol, st.lm);
  fn->setDoesNotThrow();
  L::IRBuilder<> b(L::BasicBlock::Create(c, "entry", fn));
  L::Value* args = fn->getArg(0);
  L::Value* results = fn->getArg(1);
  auto slot = [&](L::Value* base, size_t i, size_t offset) { return b.CreateConstInBoundsGEP1_64(i8, base, i * 16 + offset); };
  std::vector<L::Value*> call_args;
  for (size_t i = 0; i < f.params().size(); ++i) {
    Type t = f.type(f.params()[i]);
    if (t.kind == TypeKind::buf) {
      call_args.push_back(b.CreateLoad(ptr, slot(args, i, 0)));
      call_args.push_back(b.CreateLoad(i64, slot(args, i, 8)));
    } else if (is_float(t.elem)) {
      call_args.push_back(b.CreateLoad(scalar_type(c, t.elem), slot(args, i, 0)));
    } else {
      call_args.push_back(b.CreateTrunc(b.CreateLoad(i64, slot(args, i, 0)), scalar_type(c, t.elem)));
    }
  }
  L::Value* r = b.CreateCall(st.functions[0], call_args);
  for (unsigned k = 0; k < f.result_types.size(); ++k) {
    L::Value* x = f.result_types.size() == 1 ? r : b.CreateExtractValue(r, {k});
    Scalar s = f.result_types[k].elem;
    if (is_float(s)) {
      b.CreateStore(b.getInt64(0), slot(results, k, 0));
      b.CreateStore(x, slot(results, k, 0));
    } else {
      b.CreateStore(s == Scalar::i1 ? b.CreateZExt(x, i64) : b.CreateSExt(x, i64), slot(results, k, 0));
    }
  }
  b.CreateRetVoid();
}

}  // namespace

std::unique_ptr<llvm::Module> lower(const ir::Module& m, llvm::LLVMContext& ctx, const LowerOptions& opts) {
  if (m.functions.empty()) throw InternalError("LLVM lowering: the module has no functions");
  auto lm = std::make_unique<L::Module>("kiln." + m.functions[0].name, ctx);
  ModuleState st{m, ctx, *lm, opts, {}, 0};
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function& f = m.functions[i];
    // "kiln.fn." keeps staged names apart from C symbols (a function staged
    // as "pow" must not capture the C library's pow).
    auto* fn = L::Function::Create(function_type(ctx, f), L::GlobalValue::InternalLinkage, "kiln.fn." + f.name, *lm);
    fn->setDoesNotThrow();
    fn->addFnAttr(L::Attribute::MustProgress);
    unsigned a = 0;
    for (ValueId p : f.params()) {
      Type t = f.type(p);
      if (t.kind != TypeKind::buf) {
        ++a;
        continue;
      }
      fn->addParamAttr(a, L::Attribute::NoCapture);
      if (!t.writable) fn->addParamAttr(a, L::Attribute::ReadOnly);
      if (i == 0 && opts.no_alias) fn->addParamAttr(a, L::Attribute::NoAlias);
      a += 2;
    }
    st.functions.push_back(fn);
  }
  for (size_t i = 0; i < m.functions.size(); ++i) FunctionLowerer(st, m.functions[i], st.functions[i]).lower_function();
  lower_entry(st);
  std::string problems;
  L::raw_string_ostream out(problems);
  if (L::verifyModule(*lm, &out))
    throw InternalError("LLVM lowering of @" + m.functions[0].name + " produced invalid LLVM IR: " + out.str());
  return lm;
}

}  // namespace kiln::llvm_backend
