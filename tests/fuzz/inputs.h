// The arguments a generated program is called with, what a call produced,
// and how two outcomes are compared.
#pragma once

#include "backends.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::fuzz {

/// Arguments for one program, drawn from its seed: scalars (often small,
/// sometimes extreme) and buffer contents (sometimes NaN, infinities, -0.0).
class Inputs {
 public:
  Inputs() = default;
  Inputs(const ir::Function& entry, uint64_t seed);

  /// Argument slots pointing into fresh copies of the buffers (`storage`).
  std::vector<detail::Slot> call(std::vector<std::vector<unsigned char>>& storage) const;
  /// The arguments, one per line, for a reproducer.
  std::string describe() const;
  /// The first n arguments (a jvp's primal parameters).
  Inputs prefix(size_t n) const;

 private:
  std::vector<ir::Type> types_;
  std::vector<detail::Slot> scalars_;
  std::vector<std::vector<unsigned char>> buffers_;  // empty for scalar parameters
};

/// What a call produced: its results and every buffer's contents after it.
struct Outcome {
  std::vector<detail::Slot> results;
  std::vector<std::vector<unsigned char>> buffers;
};

/// Calls the entry of `m` on backend `b` with fresh copies of the inputs.
/// Throws what the backend throws (kiln::RuntimeError when the program traps).
Outcome execute(const Backend& b, const ir::Module& m, const Inputs& in);

/// How `got` differs from `expected`, one line per difference (at most
/// max_lines), or "" when they agree. Integers must be equal; floats
/// bit-identical, except that any NaN equals any NaN.
std::string differences(const ir::Function& entry, const Outcome& expected, const Outcome& got, size_t max_lines = 8);

}  // namespace kiln::fuzz
