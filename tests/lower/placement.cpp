// Tensor lowering (codegen/lower), where loops and temporaries go: fusion
// seen in the lowered IR (elementwise chains fuse into their stores and
// reductions, matmuls and multi-use values get one temporary each), and
// tensors around staged loops, branches, calls and parallel_for_ bodies.
// Results must equal what the interpreter
// computes running the unlowered program (the reference), bit for bit (any
// NaN equals any NaN); the lowered program runs on the interpreter and is
// cross-checked against the C++ and LLVM backends (kiln::test::interp).
#include "lower/tensor_support.h"

using kiln::Arr;
using kiln::Rep;
using kiln::Tensor;
using Catch::Matchers::Contains;
using namespace kiln::test::lowering;

TEST_CASE("lowering: a tensor made outside a for_ loop and used inside it", "[lower][tensor]") {
  auto f = kiln::stage("loop_use", [](Arr<const float> x, Arr<float> y, Arr<float> acc) {
    Tensor<float> t = kiln::exp(x.tensor({2, 3})) * 0.5f;  // used in the loop body: materialised before it
    Tensor<float> m = kiln::matmul(x.tensor({2, 3}), x.tensor({2, 3}).transpose());  // [2, 2]
    kiln::for_(0, 4, [&](Rep<int64_t> i) {
      Tensor<float> shifted = t + kiln::cast<float>(i);
      y.store(shifted, i * 6);
      acc.store(acc.tensor({2, 2}) + m * kiln::cast<float>(i));  // read-modify-write every iteration
    });
  });
  std::vector<float> x = randoms<float>(6, 151);
  auto r = lowered_matches_unlowered(f, x, std::vector<float>(24), std::vector<float>(4, 1.0f));
  const auto& y = std::get<1>(r.buffers);
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < 6; ++k) CHECK(same_scalar(y[i * 6 + k], std::exp(x[k]) * 0.5f + float(i)));
  const std::vector<float> m = ref_matmul(x, {2, 3}, ref_transpose(x, {2, 3}, {1, 0}), {3, 2});
  const auto& acc = std::get<2>(r.buffers);
  for (size_t k = 0; k < 4; ++k) {
    float a = 1.0f;
    for (int i = 0; i < 4; ++i) a = a + m[k] * float(i);
    CHECK(same_scalar(acc[k], a));
  }
}

TEST_CASE("lowering: tensors made inside a for_ body, with temporaries", "[lower][tensor]") {
  auto f = kiln::stage("loop_body", [](Arr<const double> x, Arr<double> y) {
    kiln::for_(0, 3, [&](Rep<int64_t> i) {
      Tensor<double> row = x.tensor({1, 4}, i * 4);
      Tensor<double> p = kiln::softmax(row * 2.0);               // a max and a sum: temporaries in the loop
      y.store(kiln::matmul(p.transpose(), p).reshape({16}), i * 16);
    });
  });
  std::vector<double> x = randoms<double>(12, 161);
  auto r = lowered_matches_unlowered(f, x, std::vector<double>(48));
  const auto& y = std::get<1>(r.buffers);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<double> row(x.begin() + static_cast<long>(i * 4), x.begin() + static_cast<long>(i * 4 + 4));
    for (double& v : row) v = v * 2.0;
    const std::vector<double> p = ref_softmax(row, 1, 4, false);
    const std::vector<double> want = ref_matmul(p, {4, 1}, p, {1, 4});
    for (size_t k = 0; k < 16; ++k) CHECK(same_scalar(y[i * 16 + k], want[k]));
  }
}

TEST_CASE("lowering: a parallel_for_ body may fuse tensor code, but not need a temporary", "[lower][tensor]") {
  // Fused into the body: a load of a read-only buffer and elementwise ops.
  auto ok = kiln::stage("par_fused", [](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 4, [&](Rep<int64_t> i) { y.store(kiln::exp(x.tensor({3}, i * 3)) * 2.0f, i * 3); });
  });
  std::vector<float> x = randoms<float>(12, 171);
  auto r = lowered_matches_unlowered(ok, x, std::vector<float>(12));
  for (size_t k = 0; k < 12; ++k) CHECK(same_scalar(std::get<1>(r.buffers)[k], std::exp(x[k]) * 2.0f));

  // A sum inside the body needs a temporary buffer: refused.
  int line = 0;
  auto bad = kiln::stage("par_sum", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 4, [&](Rep<int64_t> i) {
      line = __LINE__; y.store(x.tensor({3, 2}, i * 6).sum({1}), i * 3);
    });
  });
  x = randoms<float>(24, 172);
  const std::string msg = kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad); });
  CHECK_THAT(msg, Contains("@par_sum") && Contains("parallel_for_ body needs a temporary") &&
                      Contains("placement.cpp:" + std::to_string(line)) && Contains("compute the tensor outside"));
  // The same for the default compile, and the unlowered interpreter runs it.
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::compile(bad); }),
             Contains("parallel_for_ body needs a temporary"));
  std::vector<float> y(12);
  kiln::compile(bad, unlowered())(std::span<const float>(x), std::span<float>(y));
  CHECK(y[0] == x[0] + x[1]);

  // A matmul, a value used twice, and a load of a writable buffer likewise.
  auto bad2 = kiln::stage("par_matmul", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 2, [&](Rep<int64_t> i) {
      Tensor<float> a = x.tensor({2, 2}, i * 4);
      y.store(kiln::matmul(a, a), i * 4);
    });
  });
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad2); }),
             Contains("@par_matmul") && Contains("parallel_for_ body needs a temporary"));
  auto bad3 = kiln::stage("par_twice", [&](Arr<const float> x, Arr<float> y) {
    kiln::parallel_for_(0, 2, [&](Rep<int64_t> i) {
      Tensor<float> a = kiln::exp(x.tensor({4}, i * 4));
      y.store(a * 2.0f + kiln::sqrt(a), i * 4);  // two users of a
    });
  });
  CHECK_THAT(kiln::test::error_message<kiln::CompileError>([&] { kiln::test::interp(bad3); }),
             Contains("@par_twice") && Contains("parallel_for_ body needs a temporary"));
}

// --- fusion, seen in the lowered IR ---------------------------------------------------

TEST_CASE("fusion: an elementwise chain stored into an output is one loop nest, no temporary", "[lower][tensor]") {
  auto f = kiln::stage("chain", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> X = x.tensor({64});
    y.store(kiln::exp(X * 2.0f + 1.0f) * X);
  });
  const std::string ir = f.ir();
  INFO(ir);
  CHECK(kiln::test::count(ir, "alloc ") == 0);
  CHECK(kiln::test::count(ir, "for ") == 1);
  CHECK(kiln::test::count(ir, "tensor.") == 0);
  CHECK(kiln::test::count(ir, " exp ") == 1);
  lowered_matches_unlowered(f, randoms<float>(64, 181), std::vector<float>(64));

  // Two axes, broadcasting and a transposed view: still one nest, no temporary.
  auto g = kiln::stage("chain2", [](Arr<const float> x, Arr<const float> b, Arr<float> y) {
    Tensor<float> X = x.tensor({8, 16});
    y.store(kiln::tanh(X.transpose().transpose() - b.tensor({16})) * 3.0f);
  });
  const std::string ir2 = g.ir();
  INFO(ir2);
  CHECK(kiln::test::count(ir2, "alloc ") == 0);
  CHECK(kiln::test::count(ir2, "for ") == 2);
  lowered_matches_unlowered(g, randoms<float>(128, 182), randoms<float>(16, 183), std::vector<float>(128));
}

TEST_CASE("lowering: a tensor read from a writable buffer and stored back in place needs no copy; any other "
          "write in between, or a view of it, still copies",
          "[lower][tensor]") {
  // The accumulation reverse mode makes for every gradient: g += d.
  auto acc = kiln::stage("accumulate", [](Arr<const float> d, Arr<float> g) {
    g.store(g.tensor({4, 16}, 16) + d.tensor({4, 16}) * 2.0f, 16);
  });
  const std::string ir = acc.ir();
  INFO(ir);
  CHECK(kiln::test::count(ir, "alloc ") == 0);
  CHECK(kiln::test::count(ir, "for ") == 1);  // one flat loop over the 64 elements
  lowered_matches_unlowered(acc, randoms<float>(64, 191), randoms<float>(96, 192));

  // Read back transposed: element (i, j) needs element (j, i), which the
  // store may have written already. A copy.
  auto swapped = kiln::stage("swapped", [](Arr<float> g) {
    g.store(g.tensor({8, 8}).transpose() + 1.0f);
  });
  const std::string ir2 = swapped.ir();
  INFO(ir2);
  CHECK(kiln::test::count(ir2, "alloc ") == 1);
  lowered_matches_unlowered(swapped, randoms<float>(64, 193));

  // Another buffer written between the load and the store back (it may
  // overlap g): a copy; and a store to another place of g: a copy.
  auto between = kiln::stage("between", [](Arr<float> g, Arr<float> y) {
    Tensor<float> t = g.tensor({16});
    y.store(kiln::exp(t));
    g.store(t * 3.0f);
  });
  const std::string ir3 = between.ir();
  INFO(ir3);
  CHECK(kiln::test::count(ir3, "alloc ") == 1);
  lowered_matches_unlowered(between, randoms<float>(16, 194), randoms<float>(16, 195));
  auto shifted = kiln::stage("shifted", [](Arr<float> g) { g.store(g.tensor({16}, 0) * 2.0f, 4); });
  const std::string ir4 = shifted.ir();
  INFO(ir4);
  CHECK(kiln::test::count(ir4, "alloc ") == 1);
  lowered_matches_unlowered(shifted, randoms<float>(20, 196));

  // Read twice and stored back once: the second read comes after the store.
  auto twice = kiln::stage("twice", [](Arr<float> g, Arr<float> y) {
    Tensor<float> t = g.tensor({16});
    g.store(t + 1.0f);
    y.store(t * 2.0f);
  });
  const std::string ir5 = twice.ir();
  INFO(ir5);
  CHECK(kiln::test::count(ir5, "alloc ") == 1);
  lowered_matches_unlowered(twice, randoms<float>(16, 197), randoms<float>(16, 198));
}

TEST_CASE("fusion: an elementwise producer of a sum is fused into the sum's loop", "[lower][tensor]") {
  auto f = kiln::stage("sum_all", [](Arr<const double> x) {
    Tensor<double> X = x.tensor({64});
    return (kiln::exp(X) * X - 1.0).sum_all();
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 0);
    CHECK(kiln::test::count(ir, "for ") == 1);
  }
  lowered_matches_unlowered(f, randoms<double>(64, 191));

  // Over an axis, the result is a tensor: its buffer is the only temporary.
  auto g = kiln::stage("sum_axis", [](Arr<const double> x, Arr<double> y) {
    Tensor<double> X = x.tensor({8, 16});
    y.store((kiln::exp(X) * X - 1.0).sum({1}) * 2.0);
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 1);
    CHECK(kiln::test::count(ir2, "alloc 8 ") == 1);
    CHECK(kiln::test::count(ir2, " exp ") == 1);
    CHECK(kiln::test::count(ir2, "for ") == 3);  // rows, the sum's k, the store
  }
  lowered_matches_unlowered(g, randoms<double>(128, 192), std::vector<double>(8));
}

TEST_CASE("fusion: a matmul of loads gets exactly one temporary, its result", "[lower][tensor]") {
  auto f = kiln::stage("mm_fused", [](Arr<const float> a, Arr<const float> b, Arr<const float> c, Arr<float> y) {
    y.store(kiln::relu(kiln::matmul(a.tensor({4, 8}), b.tensor({8, 5})) + c.tensor({5})));
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 1);
    CHECK(kiln::test::count(ir, "alloc 20 ") == 1);
  }
  lowered_matches_unlowered(f, randoms<float>(32, 201), randoms<float>(40, 202), randoms<float>(5, 203),
                            std::vector<float>(20));

  // A transposed left operand is read in place; a transposed right operand
  // is copied once (the matmul's inner loop reads along its rows).
  auto g = kiln::stage("mm_t", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    y.store(kiln::matmul(a.tensor({8, 4}).transpose(), b.tensor({5, 8}).transpose()));
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 2);
    CHECK(kiln::test::count(ir2, "alloc 40 ") == 1);
    CHECK(kiln::test::count(ir2, "alloc 20 ") == 1);
  }
  lowered_matches_unlowered(g, randoms<float>(32, 204), randoms<float>(40, 205), std::vector<float>(20));
}

TEST_CASE("fusion: a value used twice is materialised once", "[lower][tensor]") {
  auto f = kiln::stage("used_twice", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> t = kiln::exp(x.tensor({6, 5}));
    y.store(t * 2.0f + kiln::sqrt(t));
  });
  const std::string ir = f.ir();
  {
    INFO(ir);
    CHECK(kiln::test::count(ir, "alloc ") == 1);
    CHECK(kiln::test::count(ir, "alloc 30 ") == 1);
    CHECK(kiln::test::count(ir, " exp ") == 1);
  }
  lowered_matches_unlowered(f, randoms<float>(30, 211), std::vector<float>(30));

  // Used twice by one node (t * t): fused, read twice per element, computed
  // once (cse merges the two exps), no temporary.
  auto sq = kiln::stage("squared", [](Arr<const float> x, Arr<float> y) {
    Tensor<float> t = kiln::exp(x.tensor({6, 5}));
    y.store(t * t + 1.0f);
  });
  const std::string ir1 = sq.ir();
  {
    INFO(ir1);
    CHECK(kiln::test::count(ir1, "alloc ") == 0);
    CHECK(kiln::test::count(ir1, " exp ") == 1);
  }
  lowered_matches_unlowered(sq, randoms<float>(30, 212), std::vector<float>(30));

  // Used by two stores and a sum: still one buffer for it (and one for the sum).
  auto g = kiln::stage("used_thrice", [](Arr<const float> x, Arr<float> y, Arr<float> z) {
    Tensor<float> t = kiln::sin(x.tensor({6, 5})) * 2.0f;
    y.store(t);
    z.store(t.sum({0}) + t.slice(0, 0, 1).reshape({5}));
  });
  const std::string ir2 = g.ir();
  {
    INFO(ir2);
    CHECK(kiln::test::count(ir2, "alloc ") == 2);
    CHECK(kiln::test::count(ir2, "alloc 30 ") == 1);
    CHECK(kiln::test::count(ir2, " sin ") == 1);
  }
  lowered_matches_unlowered(g, randoms<float>(30, 212), std::vector<float>(30), std::vector<float>(5));
}

TEST_CASE("lowering: tensors inside if_ branches, and views made outside a loop", "[lower][tensor]") {
  auto f = kiln::stage("branches", [](Arr<const float> x, Rep<int32_t> which, Arr<float> y) {
    Tensor<float> X = x.tensor({2, 3});
    Tensor<float> T = X.transpose();                  // a view of a load: read in place in the loop
    Tensor<float> E = kiln::exp(X);                   // used in both branches: materialised
    kiln::if_(which > 0, [&] { y.store((E * 2.0f).reshape({6}), 0); },
              [&] { y.store((kiln::softmax(X) + E.sum({1}, true)).reshape({6}), 0); });
    kiln::for_(0, 2, [&](Rep<int64_t> i) { y.store(T.slice(1, 0, 1) * kiln::cast<float>(i + 1), 6 + i * 3); });
  });
  std::vector<float> x = randoms<float>(6, 231);
  for (int32_t which : {0, 1}) {
    auto r = lowered_matches_unlowered(f, x, which, std::vector<float>(12));
    const auto& y = std::get<2>(r.buffers);
    for (size_t k = 0; k < 3; ++k) {  // column 0 of X's transpose: row 0 of X
      CHECK(same_scalar(y[6 + k], x[k] * 1.0f));
      CHECK(same_scalar(y[9 + k], x[k] * 2.0f));
    }
    for (size_t k = 0; k < 6; ++k)
      if (which) CHECK(same_scalar(y[k], std::exp(x[k]) * 2.0f));
  }
}

TEST_CASE("lowering: integer division by zero in a tensor traps as in the reference", "[lower][tensor]") {
  auto f = kiln::stage("int_div0", [](Arr<const int32_t> a, Arr<const int32_t> b, Arr<int32_t> y) {
    y.store(a.tensor({3}) / b.tensor({3}));
  });
  std::vector<int32_t> a = {1, 2, 3}, b = {1, 0, 2}, y(3);
  auto call = [&](const kiln::Compiled<void(std::span<const int32_t>, std::span<const int32_t>, std::span<int32_t>)>& c) {
    return kiln::test::error_message<kiln::RuntimeError>([&] { c(a, b, y); });
  };
  CHECK_THAT(call(kiln::compile(f, unlowered())), Contains("division by zero"));
  CHECK_THAT(call(kiln::test::interp(f)), Contains("division by zero"));
}

TEST_CASE("lowering: matmul of a computed 2-D operand broadcast over a batch", "[lower][tensor]") {
  auto f = kiln::stage("bmm_computed", [](Arr<const float> a, Arr<const float> b, Arr<float> y) {
    Tensor<float> A = kiln::relu(a.tensor({3, 4})), B = b.tensor({2, 4, 5});
    y.store(kiln::matmul(A, B), 0);                       // [2, 3, 5]
    y.store(kiln::matmul(B.transpose({0, 2, 1}), kiln::sigmoid(A.transpose())), 30);  // [2, 5, 3]
  });
  std::vector<float> a = randoms<float>(12, 241), b = randoms<float>(40, 242);
  auto r = lowered_matches_unlowered(f, a, b, std::vector<float>(60));
  std::vector<float> ra(12);
  for (size_t i = 0; i < 12; ++i) ra[i] = std::max(a[i], 0.0f);
  const std::vector<float> want = ref_matmul(ra, {3, 4}, b, {2, 4, 5});
  CHECK(difference(std::vector<float>(std::get<2>(r.buffers).begin(), std::get<2>(r.buffers).begin() + 30), want, "mm").empty());
}

TEST_CASE("lowering: constant tensors and algebraic identities through the optimiser", "[lower][tensor]") {
  auto f = kiln::stage("folds", [](Arr<const float> x, Arr<const int32_t> n, Arr<float> y, Arr<int32_t> z) {
    Tensor<float> X = x.tensor({2, 3});
    Tensor<int32_t> N = n.tensor({3});
    y.store(kiln::full<float>({3}, 2.0f) * 3.0f + kiln::arange<float>(3) - kiln::full<float>({2, 3}, 0.5f), 0);
    y.store(kiln::exp(kiln::full<float>({2, 3}, 1.0f)) * X + (-kiln::ones<float>({3})), 6);
    y.store(kiln::pow(X, 0.0f) + kiln::pow(X, 1.0f) * 1.0f + X * 0.0f, 12);
    y.store(kiln::cast<float>(kiln::cast<int32_t>(kiln::full<float>({2, 3}, 2.7f))) + X, 18);
    y.store(kiln::where(kiln::full<bool>({2, 3}, true), X, X * 2.0f) + kiln::where(kiln::zeros<float>({3}) == 1.0f, 5.0f, X), 24);
    z.store(N * 0 + N * 1 - (N - N) + kiln::abs(kiln::full<int32_t>({3}, -4)) + N / 1, 0);
    z.store(kiln::cast<int32_t>(kiln::full<int32_t>({3}, 1) == kiln::ones<int32_t>({3})) + kiln::min(N, N), 3);
  });
  std::vector<float> x = with_specials(randoms<float>(6, 251));
  auto r = lowered_matches_unlowered(f, x, std::vector<int32_t>{5, -7, 9}, std::vector<float>(30), std::vector<int32_t>(6));
  const auto& z = std::get<3>(r.buffers);
  CHECK(z == std::vector<int32_t>{5 + 4 + 5, -7 + 4 - 7, 9 + 4 + 9, 6, -6, 10});
  const auto& y = std::get<2>(r.buffers);
  CHECK(std::vector<float>(y.begin(), y.begin() + 6) == std::vector<float>{5.5f, 6.5f, 7.5f, 5.5f, 6.5f, 7.5f});
}

TEST_CASE("lowering: a staged call of a tensor function, in a loop", "[lower][tensor]") {
  auto layer = kiln::stage("layer", [](Arr<const double> x, Arr<const double> w, Arr<double> y) {
    y.store(kiln::tanh(kiln::matmul(x.tensor({2, 3}), w.tensor({3, 3}))));
  });
  auto net = kiln::stage("net", [&](Arr<const double> w, Arr<double> a, Arr<double> b) {
    kiln::for_(0, 3, [&](Rep<int64_t>) {
      layer(a, w, b);
      a.store(b.tensor({2, 3}) * 0.5 + a.tensor({2, 3}));
    });
    return a.tensor({2, 3}).sum_all();
  });
  lowered_matches_unlowered(net, randoms<double>(9, 261), randoms<double>(6, 262), std::vector<double>(6));
  // The callee kept apart (not inlined): each function is lowered on its own.
  kiln::Options o;
  o.passes.inline_calls = false;
  const std::string ir = net.ir(o);
  CHECK(kiln::test::count(ir, "call @layer") == 1);
  CHECK(kiln::test::count(ir, "tensor.") == 0);
  std::vector<double> w = randoms<double>(9, 261), a = randoms<double>(6, 262), b(6);
  std::vector<double> a2 = a, b2 = b;
  o.backend = kiln::Backend::interp;
  const double got = kiln::compile(net, o)(w, a, b);
  const double want = kiln::compile(net, unlowered())(w, a2, b2);
  CHECK(same_scalar(got, want));
  CHECK(difference(a, a2, "a").empty());
}

TEST_CASE("lowering: unlowered tensor ops run only on the interpreter", "[lower][tensor]") {
  auto f = kiln::stage("kept", [](Arr<const float> x) { return kiln::exp(x.tensor({3})).sum_all(); });
  const std::string msg = kiln::test::error_message<kiln::CompileError>([&] {
    kiln::Options o;
    o.backend = kiln::Backend::llvm;
    o.passes.lower_tensors = false;
    kiln::compile(f, o);
  });
  CHECK_THAT(msg, Contains("@kept") && Contains("lower_tensors"));
  CHECK_THAT(f.ir(unlowered()), Contains("tensor.sum") && Contains("tensor.load"));
  CHECK(kiln::test::count(f.ir(), "tensor.") == 0);
}
