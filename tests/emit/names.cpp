// Identifier sanitising: any user string becomes a valid, distinct C/C++
// identifier that cannot inject code.
#include "codegen/emit/names.h"

#include "support.h"

#include <regex>
#include <set>

using kiln::emit::Namer;
using kiln::emit::sanitize;

namespace {

bool valid_identifier(const std::string& s) {
  static const std::regex ident("[A-Za-z][A-Za-z0-9_]*");
  return std::regex_match(s, ident) && s.find("__") == std::string::npos;
}

const std::vector<std::string> hostile = {
    "a; system(\"x\")", "a", "a", "x_size", "int", "class", "main", "", "9lives", "__x", "_Upper", "kiln_add",
    "größe", "δx", "名前", "a b", "a-b", "a\nb", "\xff\xfe", "INT64_MIN", "M_PI", "std", "sin", "select", "errno",
    "t0", "out0", "*/ evil(); /*", "\\", "?\?/", "linux"};

}  // namespace

TEST_CASE("sanitize keeps plain names and makes hostile ones valid identifiers", "[emit]") {
  CHECK(sanitize("alpha_2") == "alpha_2");
  CHECK(sanitize("a; system(\"x\")") == "a_system_x_");
  CHECK(sanitize("int") == "int_");
  CHECK(sanitize("9lives") == "v9lives");
  CHECK(sanitize("") == "v");
  CHECK(sanitize("__x") == "x");
  CHECK(sanitize("größe") == "gr_u00F6_u00DF_e");
  CHECK(sanitize("INT64_MIN") == "INT64_MIN_");
  CHECK(sanitize("kiln_add") == "kiln_add_");
  for (const std::string& h : hostile) {
    INFO(h);
    CHECK(valid_identifier(sanitize(h)));
  }
}

TEST_CASE("a Namer hands out distinct identifiers, also across nested scopes", "[emit]") {
  Namer globals;
  Namer local(&globals);
  std::set<std::string> seen;
  CHECK(globals.take("f") == "f");
  seen.insert("f");
  for (const std::string& h : hostile) {
    std::string name = local.take(h);
    INFO(h << " -> " << name);
    CHECK(valid_identifier(name));
    CHECK(seen.insert(name).second);
  }
  CHECK(local.take("f") == "f_2");  // a local never hides a global
  std::string t = local.fresh("t");
  CHECK(seen.insert(t).second);  // "t0" was taken by a user name
  CHECK(t == "t1");
}

TEST_CASE("names with C linkage avoid the C library's names", "[emit]") {
  Namer globals;
  CHECK(globals.take_c_symbol("select") == "select_");
  CHECK(globals.take_c_symbol("strcpy") == "strcpy_");
  CHECK(globals.take_c_symbol("saxpy") == "saxpy");
  CHECK(kiln::emit::c_library_name("y0"));
  CHECK_FALSE(kiln::emit::c_library_name("dot"));
}
