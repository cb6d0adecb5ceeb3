// Traps for compiled code. A staged program that traps (out-of-bounds
// access, division by zero) jumps back to the innermost run_trapping of its
// thread with longjmp, so no C++ exception ever crosses JIT-compiled frames,
// which carry no unwind information kiln trusts.
//
// The price of longjmp: every frame between run_trapping and kiln_rt_trap is
// abandoned without running destructors. Those frames must be compiled code
// or C-like runtime code with no live objects that have non-trivial
// destructors (or held locks) at the point of the trap.
#pragma once

extern "C" {

/// Called by compiled code when the staged program traps; never returns.
/// Jumps to the innermost active kiln::runtime::run_trapping of the calling
/// thread, which then returns `message` (nullptr is replaced by a generic
/// message). With no active run_trapping on this thread — a kiln bug:
/// compiled code must only run under one — prints the message to stderr and
/// calls std::abort().
[[noreturn]] void kiln_rt_trap(const char* message);

}  // extern "C"

namespace kiln::runtime {

/// Calls fn(ctx) with a trap target set up for the calling thread. Returns
/// nullptr when fn returns normally, or the message of the kiln_rt_trap that
/// ended it. The message is copied: it stays valid (even after the module
/// that owned the string is unloaded) until the next trap caught on this
/// thread. Calls nest: a trap goes to the innermost run_trapping, and the
/// enclosing target is restored when it returns. A C++ exception thrown by
/// fn also restores the enclosing target and propagates.
///   if (const char* m = run_trapping(entry, &args)) throw RuntimeError(m);
const char* run_trapping(void (*fn)(void* ctx), void* ctx);

}  // namespace kiln::runtime
