// The arguments a generated program is called with, what a call produced,
// and how two outcomes are compared.
#pragma once

#include "backends.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::fuzz {

/// Arguments for one program, drawn from its seed: scalars (often small,
/// sometimes extreme) and buffer contents (sometimes NaN, infinities, -0.0).
class Inputs {
 public:
  Inputs() = default;
  /// Without edge_cases, only ordinary values (small integers, floats on a
  /// 1/256 grid within a few hundred).
  Inputs(const ir::Function& entry, uint64_t seed, bool edge_cases = true);

  /// Argument slots pointing into fresh copies of the buffers (`storage`).
  std::vector<detail::Slot> call(std::vector<std::vector<unsigned char>>& storage) const;
  /// The arguments, one per line, for a reproducer.
  std::string describe() const;
  /// The first n arguments (a jvp's primal parameters).
  Inputs prefix(size_t n) const;
  /// These arguments followed by one per type in `more`: a scalar is
  /// value(k, 0), element e of a buffer value(k, e), for the k-th new one.
  Inputs append(const std::vector<ir::Type>& more, const std::function<double(size_t, int64_t)>& value) const;
  /// These arguments with every floating-point scalar and buffer element
  /// (parameter i, element e; a scalar is element 0) moved by h * dir(i, e).
  Inputs shifted(const std::function<double(size_t, int64_t)>& dir, double h) const;
  /// Argument i (element e of a buffer) as a double.
  double value(size_t i, int64_t e = 0) const;

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
