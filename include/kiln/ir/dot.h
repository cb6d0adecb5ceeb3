// The IR as a Graphviz picture: one box per value or statement, solid edges
// for data (operand to user), dashed edges for the order effects keep, and a
// nested cluster per region. Deterministic, like the text printer, and
// numbered the same way (%0, %1, ... in order of appearance), so a box and
// a line of print() with the same number are the same value.
//
//   std::ofstream("f.dot") << kiln::ir::print_dot(f.module());   // dot -Tsvg f.dot -o f.svg
//
// KILN_DUMP=dot writes one such file per pass (docs/pictures.md).
#pragma once

#include <kiln/ir/ir.h>

#include <string>

namespace kiln::ir {

/// What the picture shows besides values and data edges.
struct DotOptions {
  /// Add the user's file:line (file name only) under each box whose node
  /// carries a source location.
  bool locations = true;
  /// Draw dashed edges between consecutive effectful statements of a region:
  /// nodes whose op is Effect::effect, and structured ops whose regions hold
  /// one. Passes keep effectful statements in this order.
  bool effect_edges = true;
};

/// A Graphviz digraph of one function, drawn as one cluster (the module
/// names callees; may be null). Boxes are labelled with the value number,
/// op, operands and type, a parameter's user name (Function::param_names)
/// and the source location; each region (if then/else, for body, while
/// cond/body, parallel_for body) is a nested cluster ending in a `yield`
/// box (the function's ends in `return`) with an edge to the op that owns
/// the region (dotted when the region yields no value).
std::string print_dot(const Function& f, const Module* m = nullptr, DotOptions opts = {});

/// A Graphviz digraph of every function of a module, entry first, one
/// cluster per function.
std::string print_dot(const Module& m, DotOptions opts = {});

}  // namespace kiln::ir
