// Trap targets: a thread-local stack of jmp_bufs, one per active
// run_trapping, linked through the frames of the run_trapping calls.
#include "trap.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace kiln::runtime {
namespace {

struct Target {
  Target* previous;  // the enclosing run_trapping's target, restored on return
  std::jmp_buf jump;
};

thread_local Target* innermost = nullptr;
// The message travels in thread-local storage, not in run_trapping's frame:
// locals of the setjmp frame written between setjmp and longjmp are
// indeterminate after the jump unless volatile.
thread_local const char* pending_message = nullptr;
thread_local std::string caught_message;

}  // namespace

// setjmp and the call of fn share one frame that stays live until fn returns
// or traps, so the jmp_buf always names a live frame. `target` is written
// only before setjmp.
const char* run_trapping(void (*fn)(void* ctx), void* ctx) {
  Target target;
  target.previous = innermost;
  innermost = &target;
  if (setjmp(target.jump) != 0) {
    innermost = target.previous;
    caught_message = pending_message;
    return caught_message.c_str();
  }
  try {
    fn(ctx);
  } catch (...) {
    innermost = target.previous;
    throw;
  }
  innermost = target.previous;
  return nullptr;
}

}  // namespace kiln::runtime

extern "C" void kiln_rt_trap(const char* message) {
  using namespace kiln::runtime;
  if (!message) message = "the staged program trapped (no message)";
  Target* target = innermost;
  if (!target) {
    std::fprintf(stderr,
                 "kiln: trap outside run_trapping (a kiln bug: compiled code ran without a trap target): %s\n",
                 message);
    std::abort();
  }
  pending_message = message;
  std::longjmp(target->jump, 1);
}
