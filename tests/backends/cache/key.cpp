// Cache keys: the digest covers every part, name and value, in order.
#include "backends/cache/key.h"

#include <catch2/catch.hpp>

#include <set>

using kiln::cache::Key;

TEST_CASE("Key: the digest changes with any name, value or the order of parts", "[cache][key]") {
  const Key base{{{"ir", "3f2a"}, {"backend", "llvm"}, {"options", "fast_math=0"}}};
  std::set<kiln::cache::Digest> digests = {
      base.digest(),
      Key{{{"ir", "3f2b"}, {"backend", "llvm"}, {"options", "fast_math=0"}}}.digest(),
      Key{{{"ir", "3f2a"}, {"backend", "cxx"}, {"options", "fast_math=0"}}}.digest(),
      Key{{{"ir", "3f2a"}, {"backend", "llvm"}, {"options", "fast_math=1"}}}.digest(),
      Key{{{"ir", "3f2a"}, {"backend", "llvm"}, {"flags", "fast_math=0"}}}.digest(),
      Key{{{"backend", "llvm"}, {"ir", "3f2a"}, {"options", "fast_math=0"}}}.digest(),
      Key{{{"ir", "3f2a"}, {"backend", "llvm"}}}.digest(),
      Key{{{"ir", "3f2a"}, {"backend", "llvm"}, {"options", "fast_math=0"}, {"cpu", ""}}}.digest(),
      Key{}.digest(),
  };
  CHECK(digests.size() == 9);
  CHECK(Key{base}.digest() == base.digest());
}

TEST_CASE("Key: parts are delimited, so moving text between name and value changes the digest", "[cache][key]") {
  CHECK(Key{{{"ab", "c"}}}.digest() != Key{{{"a", "bc"}}}.digest());
  CHECK(Key{{{"a", "b"}, {"c", "d"}}}.digest() != Key{{{"a", "bcd"}}}.digest());
  CHECK(Key{{{"", ""}}}.digest() != Key{}.digest());
}

TEST_CASE("Key: describe lists the parts one per line", "[cache][key]") {
  const Key k{{{"ir", "3f2a"}, {"cpu", "skylake +avx2"}}};
  CHECK(k.describe() == "ir: 3f2a\ncpu: skylake +avx2\n");
}
