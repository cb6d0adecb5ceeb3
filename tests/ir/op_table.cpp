// Walks the op table: every op can be built through the factory, verifies,
// prints with its spelling, and hashes structurally.
#include <catch2/catch.hpp>

#include <kiln/ir/ir.h>
#include <kiln/ir/parser.h>
#include <kiln/ir/printer.h>
#include <kiln/ir/verifier.h>

#include <set>

using namespace kiln::ir;

namespace {

Type f32() { return Type::scalar(Scalar::f32); }
Type i64() { return Type::scalar(Scalar::i64); }
Type i1() { return Type::scalar(Scalar::i1); }

struct Builder {
  Function f;
  ValueId x, n, buf;
  Builder() {
    f.name = "probe";
    f.body = f.add_region();
    x = param(f.body, f32());
    n = param(f.body, i64());
    buf = param(f.body, Type::buf(Scalar::f32, true));
  }
  ValueId param(RegionId r, Type t) {
    ValueId p = f.add(Op::Param, t, {}, static_cast<int64_t>(f.regions[r].params.size()));
    f.regions[r].params.push_back(p);
    return p;
  }
  ValueId push(RegionId r, Op op, Type t, std::vector<ValueId> args, int64_t imm = 0, std::vector<RegionId> regs = {}) {
    ValueId v = f.add(op, t, std::move(args), imm, {}, std::move(regs));
    f.regions[r].body.push_back(v);
    return v;
  }
};

/// A function whose body uses `op` once (with whatever it needs around it).
Module probe(Op op) {
  Builder b;
  Function& f = b.f;
  RegionId body = f.body;
  ValueId one = b.push(body, Op::Const, i64(), {}, 1);
  switch (info(op).shape) {
    case Shape::leaf:
      if (op == Op::Const) b.push(body, Op::Const, f32(), {}, encode_const(Scalar::f32, 2.5));
      break;  // params are in the signature
    case Shape::unary_num:
    case Shape::unary_float: b.push(body, op, f32(), {b.x}); break;
    case Shape::unary_bits: b.push(body, op, i64(), {b.n}); break;
    case Shape::cast: b.push(body, op, i64(), {b.x}); break;
    case Shape::binary_num:
    case Shape::binary_float: b.push(body, op, f32(), {b.x, b.x}); break;
    case Shape::binary_bits:
    case Shape::shift: b.push(body, op, i64(), {b.n, one}); break;
    case Shape::compare: b.push(body, op, i1(), {b.x, b.x}); break;
    case Shape::fma: b.push(body, op, f32(), {b.x, b.x, b.x}); break;
    case Shape::select: b.push(body, op, f32(), {b.push(body, Op::Lt, i1(), {b.x, b.x}), b.x, b.x}); break;
    case Shape::size: b.push(body, op, i64(), {b.buf}); break;
    case Shape::disjoint:
      b.push(body, op, i1(), {b.buf, b.push(body, Op::Alloc, Type::buf(Scalar::i64, true), {}, 3)});
      break;
    case Shape::load: b.push(body, op, f32(), {b.buf, one}); break;
    case Shape::store: b.push(body, op, {}, {b.buf, one, b.x}); break;
    case Shape::var_load: b.push(body, op, f32(), {}, 3); break;
    case Shape::var_store: b.push(body, op, {}, {b.x}, 3); break;
    case Shape::tape_buffer: b.push(body, op, Type::buf(Scalar::f64, true), {b.n}, 3); break;
    case Shape::call: b.push(body, op, Type::tuple(), {b.x, b.n, b.buf}, 0); break;
    case Shape::get:
    case Shape::if_: {
      RegionId t = f.add_region(), e = f.add_region();
      f.regions[t].yields = {b.x};
      f.regions[e].yields = {b.x};
      ValueId c = b.push(body, Op::Lt, i1(), {b.x, b.x});
      ValueId node = b.push(body, Op::If, Type::tuple(), {c}, 0, {t, e});
      b.push(body, Op::Get, f32(), {node}, 0);
      break;
    }
    case Shape::for_: {
      RegionId r = f.add_region();
      b.param(r, i64());
      ValueId acc = b.param(r, f32());
      f.regions[r].yields = {b.push(r, Op::Add, f32(), {acc, b.x})};
      b.push(body, op, Type::tuple(), {one, b.n, one, b.x}, 0, {r});
      break;
    }
    case Shape::while_: {
      RegionId c = f.add_region(), r = f.add_region();
      ValueId v = b.param(c, i64());
      f.regions[c].yields = {b.push(c, Op::Lt, i1(), {v, b.n}), v};
      ValueId w = b.param(r, i64());
      f.regions[r].yields = {b.push(r, Op::Add, i64(), {w, one})};
      b.push(body, op, Type::tuple(), {one}, 0, {c, r});
      break;
    }
    case Shape::check: b.push(body, op, {}, {b.push(body, Op::Lt, i1(), {b.x, b.x})}, intern_message("bad", "fix it")); break;
    case Shape::alloc: b.push(body, op, Type::buf(Scalar::f32, true), {}, 12); break;
    case Shape::gemm: {
      ValueId c = b.push(body, Op::Alloc, Type::buf(Scalar::f32, true), {}, 4);
      b.push(body, op, {}, {b.buf, one, b.buf, one, c}, intern_ints({2, 1, 2}));
      break;
    }
    case Shape::splat: b.push(body, op, Type::tensor(Scalar::f32, {2, 3}), {b.x}); break;
    case Shape::dense:
      b.push(body, op, Type::tensor(Scalar::f32, {2}), {},
             intern_ints({encode_const(Scalar::f32, 1.5), encode_const(Scalar::f32, -2)}));
      break;
    case Shape::iota: b.push(body, op, Type::tensor(Scalar::i64, {4}), {}); break;
    case Shape::tensor_view: {
      ValueId t = b.push(body, Op::Splat, Type::tensor(Scalar::f32, {2, 3}), {b.x});
      if (op == Op::Broadcast) b.push(body, op, Type::tensor(Scalar::f32, {4, 2, 3}), {t});
      if (op == Op::Transpose) b.push(body, op, Type::tensor(Scalar::f32, {3, 2}), {t}, intern_ints({1, 0}));
      if (op == Op::Reshape) b.push(body, op, Type::tensor(Scalar::f32, {6}), {t});
      if (op == Op::Slice) b.push(body, op, Type::tensor(Scalar::f32, {1, 2}), {t}, intern_ints({1, 1, 0, 2}));
      if (op == Op::Embed) b.push(body, op, Type::tensor(Scalar::f32, {3, 5}), {t}, intern_ints({1, 1, 0, 2}));
      break;
    }
    case Shape::reduce: {
      ValueId t = b.push(body, Op::Splat, Type::tensor(Scalar::f32, {2, 3}), {b.x});
      b.push(body, op, Type::tensor(Scalar::f32, {2}), {t}, 2);
      break;
    }
    case Shape::matmul: {
      ValueId t = b.push(body, Op::Splat, Type::tensor(Scalar::f32, {2, 3}), {b.x});
      ValueId u = b.push(body, Op::Splat, Type::tensor(Scalar::f32, {3, 4}), {b.x});
      b.push(body, op, Type::tensor(Scalar::f32, {2, 4}), {t, u});
      break;
    }
    case Shape::tensor_load: b.push(body, op, Type::tensor(Scalar::f32, {2, 2}), {b.buf, one}); break;
    case Shape::tensor_store: {
      ValueId t = b.push(body, Op::Splat, Type::tensor(Scalar::f32, {2, 3}), {b.x});
      b.push(body, op, {}, {t, b.buf, one});
      break;
    }
    case Shape::parallel_for: {
      RegionId r = f.add_region();
      ValueId i = b.param(r, i64());
      b.push(r, Op::Store, {}, {b.buf, i, b.x});
      b.push(body, op, {}, {one, b.n, one}, 0, {r});
      break;
    }
  }
  return Module{{std::move(f)}};
}

}  // namespace

TEST_CASE("every op in the table builds, verifies, prints, reads back and hashes", "[ir][table]") {
  for (Op op : all_ops()) {
    INFO("op: " << info(op).spelling);
    Module m = probe(op);
    VerifyOptions opts{.allow_variables = op == Op::VarLoad || op == Op::VarStore};
    auto errors = verify_errors(m, opts);
    CHECK(errors.empty());
    for (const auto& e : errors) UNSCOPED_INFO(e);
    std::string text = print(m);
    if (op != Op::Param) CHECK(text.find(std::string(info(op).spelling) + " ") != std::string::npos);
    CHECK(print(parse(text)) == text);
    Module copy = probe(op);
    CHECK(structural_hash(m) == structural_hash(copy));
    CHECK(structurally_equal(m, copy));
  }
}

TEST_CASE("the op table lists every op exactly once with a distinct spelling", "[ir][table]") {
  std::set<std::string_view> spellings;
  for (Op op : all_ops()) CHECK(spellings.insert(info(op).spelling).second);
  CHECK(spellings.size() == all_ops().size());
}

TEST_CASE("structural hash ignores node-table layout but not structure", "[ir][hash]") {
  Module a = probe(Op::Add), b = probe(Op::Sub), c = probe(Op::Add);
  // Same structure built with an unused node first: different table, same program.
  Function& f = c.functions[0];
  Node unused;
  unused.type = f32();
  f.nodes.insert(f.nodes.begin(), unused);
  for (Node& n : f.nodes)
    for (ValueId& v : n.args) ++v;
  for (Region& r : f.regions) {
    for (ValueId& v : r.params) ++v;
    for (ValueId& v : r.body) ++v;
    for (ValueId& v : r.yields) ++v;
  }
  CHECK(verify_errors(c).empty());
  CHECK(structural_hash(a) == structural_hash(c));
  CHECK(structural_hash(a) != structural_hash(b));
}
