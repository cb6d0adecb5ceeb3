// The reverse-mode tape for compiled code (IR ops tape.push / tape.pop): a
// stack of 64-bit words per tape level and thread. Values pushed by one
// function are popped by another (a function's forward sweep and its reverse
// sweep), so the tape belongs to the thread, not to a call.
#pragma once

#include <cstdint>

extern "C" {

/// Pushes `word` onto the calling thread's tape number `level`.
void kiln_rt_tape_push(int64_t level, uint64_t word);
/// Pops the last word pushed onto the calling thread's tape `level`; an
/// empty tape (a kiln bug) traps.
uint64_t kiln_rt_tape_pop(int64_t level);

}  // extern "C"
