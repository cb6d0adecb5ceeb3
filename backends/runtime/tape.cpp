#include "tape.h"

#include "trap.h"

#include <kiln/autodiff.h>
#include <kiln/ir/ir.h>

#include <cstdlib>
#include <cstring>

namespace {
struct Tapes {
  KilnTape level[kiln::ir::tape_levels] = {};
  ~Tapes() {
    for (KilnTape& t : level) std::free(t.data);
  }
};
thread_local Tapes tapes;
}  // namespace

namespace kiln {

size_t tape_bytes() {
  size_t out = 0;
  for (const KilnTape& t : tapes.level) out += static_cast<size_t>(t.cap) * sizeof(uint64_t);
  return out;
}

void release_tapes() {
  for (KilnTape& t : tapes.level)
    if (t.size == 0) {
      std::free(t.data);
      t = KilnTape{};
    }
}

}  // namespace kiln

extern "C" {

KilnTape* kiln_rt_tape(int64_t level) { return &tapes.level[level]; }

uint64_t* kiln_rt_tape_reserve(KilnTape* t, int64_t words) {
  while (t->cap - t->size < words) kiln_rt_tape_grow(t);
  uint64_t* at = t->data + t->size;
  if (words > 0) std::memset(at, 0, static_cast<size_t>(words) * sizeof(uint64_t));  // `at` may be null for 0
  t->size += words;
  return at;
}

uint64_t* kiln_rt_tape_release(KilnTape* t, int64_t words) {
  if (words > t->size) kiln_rt_trap("internal: tape.release of more than the tape holds");
  t->size -= words;
  return t->data + t->size;
}

void kiln_rt_tape_grow(KilnTape* t) {
  const int64_t cap = t->cap ? 2 * t->cap : 1024;
  auto* data = static_cast<uint64_t*>(std::realloc(t->data, static_cast<size_t>(cap) * sizeof(uint64_t)));
  if (!data) std::abort();  // out of memory: no way to report it from compiled code
  t->data = data;
  t->cap = cap;
}

}  // extern "C"
