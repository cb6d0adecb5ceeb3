// The default pass pipeline, in order. Read pipeline.cpp first.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

namespace kiln::passes {

/// Runs the default pipeline on freshly staged IR. KILN_DUMP=ir prints the
/// IR after each pass to stderr; the verifier runs after each pass when
/// opts.verify_each_pass is set or in debug builds.
ir::Module run_pipeline(ir::Module m, const Options& opts);

}  // namespace kiln::passes
