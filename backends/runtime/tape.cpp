#include "tape.h"

#include "trap.h"

#include <kiln/ir/ir.h>

#include <vector>

namespace {
std::vector<uint64_t>& tape(int64_t level) {
  static thread_local std::vector<uint64_t> tapes[kiln::ir::tape_levels];
  return tapes[level];
}
}  // namespace

extern "C" {

void kiln_rt_tape_push(int64_t level, uint64_t word) { tape(level).push_back(word); }

uint64_t kiln_rt_tape_pop(int64_t level) {
  std::vector<uint64_t>& t = tape(level);
  if (t.empty()) kiln_rt_trap("internal: tape.pop on an empty tape");
  const uint64_t w = t.back();
  t.pop_back();
  return w;
}

}  // extern "C"
