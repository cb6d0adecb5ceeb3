// Cache keys: everything a compiled artefact depends on, as named parts, so
// that a miss can say which part changed.
#pragma once

#include "hash.h"

#include <string>
#include <utility>
#include <vector>

namespace kiln::cache {

/// What a compiled artefact depends on, as named text parts in a fixed
/// order. Two keys are the same entry when every part is equal; put the
/// most telling part (the IR) first, since explain_miss() prefers entries
/// that agree on earlier parts.
///
///   Key k{{{"ir", hash_module(m).hex()}, {"backend", "llvm"}, {"options", "fast_math=0"},
///          {"llvm", "19.1.7"}, {"cpu", "skylake-avx512 +avx2,+fma"}}};
///   cache.store(k, object);
struct Key {
  std::vector<std::pair<std::string, std::string>> parts;

  /// The hash of every part, names and values, in order (the entry's file name).
  Digest digest() const;
  /// One line per part, "name: value", for messages and logs.
  std::string describe() const;
  bool operator==(const Key&) const = default;
};

}  // namespace kiln::cache
