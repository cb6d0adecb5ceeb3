// The verifier rejects hand-built IR that breaks an invariant, and says which.
#include <catch2/catch.hpp>

#include <kiln/error.h>
#include <kiln/ir/ir.h>
#include <kiln/ir/verifier.h>

using namespace kiln::ir;
using Catch::Matchers::Contains;

namespace {

Type f32() { return Type::scalar(Scalar::f32); }
Type i64() { return Type::scalar(Scalar::i64); }
Type i1() { return Type::scalar(Scalar::i1); }

/// A function (x: f32) -> (f32) with an empty body; tests fill it in.
Function skeleton() {
  Function f;
  f.name = "t";
  f.body = f.add_region();
  ValueId x = f.add(Op::Param, f32(), {}, 0);
  f.regions[f.body].params.push_back(x);
  f.result_types = {f32()};
  return f;
}

ValueId push(Function& f, RegionId r, Op op, Type t, std::vector<ValueId> args, int64_t imm = 0,
             std::vector<RegionId> regions = {}) {
  ValueId v = f.add(op, t, std::move(args), imm, {}, std::move(regions));
  f.regions[r].body.push_back(v);
  return v;
}

Node make(Op op, Type t, std::vector<ValueId> args, int64_t imm = 0) {
  Node n;
  n.op = op;
  n.type = t;
  n.args = std::move(args);
  n.imm = imm;
  return n;
}

/// Appends a node without the factory's checks (to build IR the factory refuses).
ValueId raw(Function& f, RegionId r, Node n) {
  f.nodes.push_back(std::move(n));
  ValueId v = static_cast<ValueId>(f.nodes.size() - 1);
  f.regions[r].body.push_back(v);
  return v;
}

/// Appends `if x > x` over regions t and e (filled in by the caller).
ValueId push_if(Function& f, RegionId t, RegionId e) {
  ValueId x = f.params()[0];
  ValueId c = push(f, f.body, Op::Gt, i1(), {x, x});
  return push(f, f.body, Op::If, Type::tuple(), {c}, 0, {t, e});
}

std::string errors_of(const Function& f, VerifyOptions opts = {}) {
  Module m{{f}};
  std::string all;
  for (const auto& e : verify_errors(m, opts)) all += e + "\n";
  return all;
}

}  // namespace

TEST_CASE("a well-formed function verifies cleanly", "[ir][verifier]") {
  Function f = skeleton();
  ValueId x = f.params()[0];
  ValueId y = push(f, f.body, Op::Mul, f32(), {x, x});
  f.regions[f.body].yields = {y};
  CHECK(errors_of(f).empty());
}

TEST_CASE("the node factory refuses operands of the wrong type", "[ir][verifier]") {
  Function f = skeleton();
  ValueId n = f.add(Op::Const, i64(), {}, 3);
  CHECK_THROWS_WITH(f.add(Op::Add, f32(), {f.params()[0], n}), Contains("'add' needs two int or float operands"));
  CHECK_THROWS_AS(f.add(Op::Sqrt, i64(), {n}), kiln::InternalError);
  CHECK_THROWS_WITH(f.add(Op::Fma, f32(), {n}), Contains("takes 3 operands"));
}

TEST_CASE("the verifier rejects mismatched operand types", "[ir][verifier]") {
  Function f = skeleton();
  ValueId n = push(f, f.body, Op::Const, i64(), {}, 3);
  ValueId bad = raw(f, f.body, make(Op::Add, f32(), {f.params()[0], n}));
  f.regions[f.body].yields = {bad};
  CHECK_THAT(errors_of(f), Contains("needs two int or float operands"));
}

TEST_CASE("the verifier rejects a use before the definition", "[ir][verifier]") {
  Function f = skeleton();
  ValueId c = f.add(Op::Const, f32(), {}, 0);
  ValueId y = f.add(Op::Add, f32(), {f.params()[0], c});
  f.regions[f.body].body = {y, c};  // y listed before its operand c
  f.regions[f.body].yields = {y};
  CHECK_THAT(errors_of(f), Contains("does not dominate its use"));
}

TEST_CASE("the verifier rejects a value used outside the region that defines it", "[ir][verifier]") {
  Function f = skeleton();
  ValueId x = f.params()[0];
  RegionId t = f.add_region(), e = f.add_region();
  ValueId inner = push(f, t, Op::Mul, f32(), {x, x});
  f.regions[t].yields = {inner};
  f.regions[e].yields = {x};
  push_if(f, t, e);
  ValueId leak = push(f, f.body, Op::Add, f32(), {inner, x});  // inner lives in the then-region
  f.regions[f.body].yields = {leak};
  CHECK_THAT(errors_of(f), Contains("does not dominate its use"));
}

TEST_CASE("the verifier rejects if-branches yielding different types", "[ir][verifier]") {
  Function f = skeleton();
  ValueId x = f.params()[0];
  RegionId t = f.add_region(), e = f.add_region();
  f.regions[t].yields = {x};
  f.regions[e].yields = {push(f, e, Op::Const, i64(), {}, 1)};
  ValueId node = push_if(f, t, e);
  f.regions[f.body].yields = {push(f, f.body, Op::Get, f32(), {node}, 0)};
  CHECK_THAT(errors_of(f), Contains("else-region yields are (i64), expected (f32)"));
}

TEST_CASE("the verifier rejects a projection past the end of a tuple", "[ir][verifier]") {
  Function f = skeleton();
  ValueId x = f.params()[0];
  RegionId t = f.add_region(), e = f.add_region();
  f.regions[t].yields = {x};
  f.regions[e].yields = {x};
  ValueId node = push_if(f, t, e);
  f.regions[f.body].yields = {push(f, f.body, Op::Get, f32(), {node}, 1)};
  CHECK_THAT(errors_of(f), Contains("projects element 1 of a 1-tuple"));
}

TEST_CASE("the verifier rejects loop bodies whose yields do not match the carried values", "[ir][verifier]") {
  Function f = skeleton();
  ValueId x = f.params()[0];
  ValueId lo = push(f, f.body, Op::Const, i64(), {}, 0);
  ValueId one = push(f, f.body, Op::Const, i64(), {}, 1);
  RegionId b = f.add_region();
  ValueId i = f.add(Op::Param, i64(), {}, 0);
  ValueId acc = f.add(Op::Param, f32(), {}, 1);
  f.regions[b].params = {i, acc};
  f.regions[b].yields = {i};  // yields i64 where f32 is carried
  ValueId loop = push(f, f.body, Op::For, Type::tuple(), {lo, one, one, x}, 0, {b});
  f.regions[f.body].yields = {push(f, f.body, Op::Get, f32(), {loop}, 0)};
  CHECK_THAT(errors_of(f), Contains("body yields are (i64), expected (f32)"));
}

TEST_CASE("the verifier rejects staging variables after promotion", "[ir][verifier]") {
  Function f = skeleton();
  raw(f, f.body, make(Op::VarStore, {}, {f.params()[0]}, 7));
  ValueId v = raw(f, f.body, make(Op::VarLoad, f32(), {}, 7));
  f.regions[f.body].yields = {v};
  CHECK_THAT(errors_of(f), Contains("remains after variable promotion"));
  CHECK(errors_of(f, {.allow_variables = true}).empty());
}

TEST_CASE("the verifier rejects a call with the wrong number of arguments", "[ir][verifier]") {
  Function f = skeleton();
  ValueId call = push(f, f.body, Op::Call, Type::tuple(), {}, 0);
  f.regions[f.body].yields = {push(f, f.body, Op::Get, f32(), {call}, 0)};
  CHECK_THAT(errors_of(f), Contains("passes 0 arguments to @t, which takes 1"));
}

TEST_CASE("the verifier rejects a node listed twice", "[ir][verifier]") {
  Function f = skeleton();
  ValueId y = push(f, f.body, Op::Mul, f32(), {f.params()[0], f.params()[0]});
  f.regions[f.body].body.push_back(y);
  f.regions[f.body].yields = {y};
  CHECK_THAT(errors_of(f), Contains("listed in more than one place"));
}

TEST_CASE("the verifier rejects results that do not match the declared types", "[ir][verifier]") {
  Function f = skeleton();
  f.regions[f.body].yields = {push(f, f.body, Op::Const, i64(), {}, 1)};
  CHECK_THAT(errors_of(f), Contains("result 0 has type i64, declared f32"));
}

TEST_CASE("verify() throws an InternalError naming the pass", "[ir][verifier]") {
  Function f = skeleton();
  Module m{{f}};  // no yields: returns 0 values, declares 1
  CHECK_THROWS_WITH(verify(m, "my_pass"), Contains("after my_pass") && Contains("returns 0 values"));
}

TEST_CASE("a constant must have a scalar type", "[ir][verifier]") {
  Function f = skeleton();
  CHECK_THROWS_WITH(f.add(Op::Const, Type::buf(Scalar::f32, true), {}, 0), Contains("'const' must have a scalar type"));
}

TEST_CASE("disjoint takes two buffers of any element types and gives i1", "[ir][verifier][disjoint]") {
  Function f = skeleton();
  const RegionId body = f.body;
  const ValueId x = f.params()[0];
  const ValueId a = push(f, body, Op::Alloc, Type::buf(Scalar::f64, true), {}, 4);
  const ValueId b = push(f, body, Op::Alloc, Type::buf(Scalar::i1, true), {}, 2);
  const ValueId n = push(f, body, Op::Const, i64(), {}, 3);

  SECTION("valid: mixed element types, a buffer with itself") {
    push(f, body, Op::Disjoint, i1(), {a, b});
    push(f, body, Op::Disjoint, i1(), {a, a});
    f.regions[body].yields = {x};
    CHECK(errors_of(f).empty());
  }
  SECTION("the factory refuses a scalar operand, a wrong result type and a wrong operand count") {
    CHECK_THROWS_WITH(f.add(Op::Disjoint, i1(), {a, n}), Contains("'disjoint' takes two buffers and gives i1"));
    CHECK_THROWS_WITH(f.add(Op::Disjoint, i1(), {x, b}), Contains("'disjoint' takes two buffers and gives i1"));
    CHECK_THROWS_WITH(f.add(Op::Disjoint, i64(), {a, b}), Contains("'disjoint' takes two buffers and gives i1"));
    CHECK_THROWS_WITH(f.add(Op::Disjoint, i1(), {a}), Contains("takes 2 operands"));
    CHECK_THROWS_WITH(f.add(Op::Disjoint, i1(), {a, b, a}), Contains("takes 2 operands"));
  }
  SECTION("the verifier rejects a non-buffer operand") {
    raw(f, body, make(Op::Disjoint, i1(), {a, n}));
    f.regions[body].yields = {x};
    CHECK_THAT(errors_of(f), Contains("'disjoint' takes two buffers and gives i1, got buf<f64>, i64 -> i1"));
  }
  SECTION("the verifier rejects a result other than i1") {
    raw(f, body, make(Op::Disjoint, Type::scalar(Scalar::i32), {a, b}));
    f.regions[body].yields = {x};
    CHECK_THAT(errors_of(f), Contains("'disjoint' takes two buffers and gives i1"));
  }
  SECTION("the verifier rejects the wrong operand count") {
    raw(f, body, make(Op::Disjoint, i1(), {a}));
    f.regions[body].yields = {x};
    CHECK_THAT(errors_of(f), Contains("has 1 operands, expected 2"));
  }
}
