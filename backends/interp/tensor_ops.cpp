// Placeholder: being written (see tensor_ops.h).
#include "tensor_ops.h"

#include <kiln/error.h>

namespace kiln::interp {

Value eval_tensor(const ir::Function&, const ir::Node& n, const std::vector<Value>&, Blocks&, const TrapFn&) {
  throw InternalError("the interpreter cannot run " + std::string(ir::info(n.op).spelling) + " yet");
}

}  // namespace kiln::interp
