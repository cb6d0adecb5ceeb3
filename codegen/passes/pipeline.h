// The default pass pipeline, in order. Read pipeline.cpp first.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

namespace kiln::passes {

/// Runs the default pipeline on freshly staged IR. KILN_DUMP=ir prints the
/// IR after each pass to stderr; KILN_DUMP=dot writes it as a Graphviz file
/// (and an SVG) per pass into KILN_DUMP_DIR; the verifier runs after each pass when
/// opts.verify_each_pass is set or in debug builds.
ir::Module run_pipeline(ir::Module m, const Options& opts);

}  // namespace kiln::passes
