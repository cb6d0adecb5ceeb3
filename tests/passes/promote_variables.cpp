// promote_variables: var.load / var.store before, SSA after.
#include <catch2/catch.hpp>

#include "support.h"

#include <kiln/ir/verifier.h>

#include "codegen/passes/promote_variables.h"
#include "stage/context.h"

using kiln::Rep;
using kiln::test::check_lines;
using kiln::test::count;

namespace {
template <class Sig>
kiln::ir::Module staged_raw(const kiln::Staged<Sig>& s) { return kiln::detail::build_module(s.state()); }
}  // namespace

TEST_CASE("staging records variable traffic only where regions are crossed", "[passes][promote]") {
  auto f = kiln::stage("acc", [](Rep<int64_t> n) {
    Rep<int64_t> a = 1;
    a = a + 2;  // same region: no var traffic
    kiln::for_(0, n, [&](Rep<int64_t> i) { a += i; });
    return a;
  });
  std::string before = kiln::ir::print(staged_raw(f));
  INFO(before);
  // One store to enter the loop, a load and a store inside it, a load after.
  CHECK(count(before, "var.store") == 2);
  CHECK(count(before, "var.load") == 2);
}

TEST_CASE("promotion turns a loop-assigned variable into a carried value", "[passes][promote]") {
  auto f = kiln::stage("acc", [](Rep<int64_t> n) {
    Rep<int64_t> a = 1;
    kiln::for_(0, n, [&](Rep<int64_t> i) { a += i; });
    return a;
  });
  kiln::ir::Module after = kiln::passes::promote_variables(staged_raw(f));
  CHECK(kiln::ir::verify_errors(after).empty());
  std::string text = kiln::ir::print(after);
  std::string why;
  // The step 1 and the initial value 1 are one hash-consed constant.
  CHECK(check_lines(text, {"%1 = const 1 : i64", "%3 = for %2, %0, %1 iter(%1) : (i64) {", "^(%4: i64, %5: i64):",
                           "%6 = add %5, %4 : i64", "yield %6", "%7 = get %3, 0 : i64", "return %7"},
                    &why));
  INFO(why << "\n" << text);
  CHECK(text.find("var.") == std::string::npos);
}

TEST_CASE("promotion leaves a function without variables unchanged", "[passes][promote]") {
  auto f = kiln::stage("pure", [](Rep<double> x) { return x * x + 1.0; });
  kiln::ir::Module before = staged_raw(f);
  kiln::ir::Module after = kiln::passes::promote_variables(before);
  CHECK(kiln::ir::print(before) == kiln::ir::print(after));
  CHECK(after.functions[0].nodes.size() == before.functions[0].nodes.size());
}

TEST_CASE("promotion creates no projection for a variable never read again", "[passes][promote]") {
  auto f = kiln::stage("dead", [](Rep<int64_t> n) {
    Rep<int64_t> unused = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) { unused += i; });
    return n;
  });
  std::string text = kiln::ir::print(kiln::passes::promote_variables(staged_raw(f)));
  CHECK(text.find("get ") == std::string::npos);
}

TEST_CASE("promotion threads a variable through nested if, while and for", "[passes][promote]") {
  auto f = kiln::stage("deep", [](Rep<int64_t> n) {
    Rep<int64_t> v = 0;
    kiln::for_(0, n, [&](Rep<int64_t> i) {
      Rep<int64_t> k = i;
      kiln::while_([&] { return k > 0; }, [&] {
        kiln::if_(k % 3 == 0, [&] { v += k; });
        k -= 1;
      });
    });
    return v;
  });
  kiln::ir::Module after = kiln::passes::promote_variables(staged_raw(f));
  CHECK(kiln::ir::verify_errors(after).empty());
  std::string text = kiln::ir::print(after);
  INFO(text);
  CHECK(text.find("var.") == std::string::npos);
  // v is carried by the for and the while and is a result of the if.
  CHECK(text.find("for ") != std::string::npos);
  CHECK(text.find(": (i64, i64) {") != std::string::npos);  // while carries k and v
  int64_t v = 0;
  for (int64_t i = 0; i < 20; ++i)
    for (int64_t k = i; k > 0; --k)
      if (k % 3 == 0) v += k;
  CHECK(kiln::test::interp(f)(20) == v);
}
