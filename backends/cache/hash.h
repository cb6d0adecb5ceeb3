// Stable 128-bit digests for compiled-code caches: a streaming hasher and the
// structural hash of an IR module. Digests are the same in every process and
// on every build of kiln with this scheme (no pointers, no std::hash), so they
// can name files in an on-disk cache.
#pragma once

#include <kiln/ir/ir.h>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::cache {

/// A 128-bit digest. Compared as (hi, lo).
///
///   Digest d = hash_module(m);  d.hex() == "3f2a...": 32 lowercase hex digits
struct Digest {
  uint64_t hi = 0, lo = 0;
  /// 32 lowercase hex digits, hi first: usable as a file name.
  std::string hex() const;
  auto operator<=>(const Digest&) const = default;
};

/// A streaming 128-bit hasher: MurmurHash3_x64_128 (seed 0x6b696c6e, "kiln")
/// of the little-endian bytes of the 64-bit words fed to it. Not
/// cryptographic: good mixing for cache keys and checksums, no defence
/// against someone crafting collisions (cache hits are checked against the
/// stored key anyway).
///
///   Hasher h;
///   h.add_word(42).add_bytes("name");
///   Digest d = h.finish();
class Hasher {
 public:
  /// Feeds one 64-bit word.
  Hasher& add_word(uint64_t w);
  /// Feeds a byte string: its length, then its bytes (zero-padded to whole
  /// words). Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  Hasher& add_bytes(std::string_view s);
  /// The digest of everything fed so far (the hasher can go on after it).
  Digest finish() const;

 private:
  void block(uint64_t k1, uint64_t k2);

  uint64_t h1_ = 0x6b696c6e, h2_ = 0x6b696c6e;
  uint64_t pending_ = 0;  // the first word of an incomplete 16-byte block
  uint64_t words_ = 0;
};

/// The structural hash of a module: what the program means and everything
/// that reaches generated code, nothing else. Per function, in order: its
/// name, result types and body, each region walked in order with its
/// parameter types, statements and yields; per statement its op, type,
/// attribute (`imm`, for ops that have one), operands as positions in the
/// order values are defined (the printer's %n numbering, not node ids), its
/// source file's base name and line (trap messages show them) and its
/// regions. Not hashed: parameter names, nodes no region lists, node-table
/// layout, source columns and directories.
///
/// Modules that print alike with ir::print(m, {.locations = true}) hash
/// alike, with one deliberate exception: float constants are hashed by their
/// bits, so NaNs with different payloads (all printed "nan") differ.
Digest hash_module(const ir::Module& m);

}  // namespace kiln::cache
