// Spellings shared by the two pictures of the IR: the text printer
// (printer.cpp) and the Graphviz form (dot.cpp). Both number values the
// same way and spell constants and function names the same way.
#pragma once

#include <kiln/ir/ir.h>

#include <string>
#include <string_view>
#include <unordered_map>

namespace kiln::ir {

/// Value numbers in order of appearance: the first value defined is %0, the
/// next %1, ... A printer calls def() where a value's definition appears
/// (function parameters, then each statement with a result, then a
/// region's parameters where the region opens), so the numbers do not
/// depend on node-table layout.
class ValueNumbers {
 public:
  /// Numbers v next; returns "%n".
  std::string def(ValueId v) {
    int n = static_cast<int>(number_.size());
    number_.emplace(v, n);
    return std::string("%").append(std::to_string(n));
  }
  /// "%n" for a value already defined; "%?k" (k the node id) for one that
  /// is not defined yet, so broken IR prints without guessing.
  std::string ref(ValueId v) const {
    auto it = number_.find(v);
    if (it == number_.end()) return std::string("%?").append(std::to_string(v));
    return std::string("%").append(std::to_string(it->second));
  }

 private:
  std::unordered_map<ValueId, int> number_;
};

/// A constant's value as the IR text spells it: 3, true, 1.5, -inf, nan.
std::string const_text(const Node& n);

/// A function reference: @name, or @"..." with quotes, backslashes and
/// control characters escaped when the name is not plain.
std::string function_ref(std::string_view name);

}  // namespace kiln::ir
