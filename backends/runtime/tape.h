// The reverse-mode tape for compiled code (IR ops tape.push / tape.pop): a
// stack of 64-bit words per tape level and thread. Values pushed by one
// function are popped by another (a function's forward sweep and its reverse
// sweep), so the tape belongs to the thread, not to a call.
//
// Compiled code pushes and pops inline (backends/llvm/lower.cpp): it asks
// for its thread's tape once per function and calls kiln_rt_tape_grow only
// when the tape is full.
#pragma once

#include <cstdint>

extern "C" {

/// One tape: words [0, size) of data, room for cap.
struct KilnTape {
  uint64_t* data;
  int64_t size;
  int64_t cap;
};

/// The calling thread's tape number `level` (< ir::tape_levels).
KilnTape* kiln_rt_tape(int64_t level);
/// Makes room for at least one more word (doubles the capacity).
void kiln_rt_tape_grow(KilnTape* tape);
/// tape.reserve: appends `words` zeroed words; returns where they start.
uint64_t* kiln_rt_tape_reserve(KilnTape* tape, int64_t words);
/// tape.release: pops `words` words; returns where they start (they stay
/// in place until the next push).
uint64_t* kiln_rt_tape_release(KilnTape* tape, int64_t words);

}  // extern "C"
