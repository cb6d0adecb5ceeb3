// An on-disk cache of compiled artefacts (object files, kernels), shared by
// every process of the user. Entries are checked, never trusted by name: a
// hit needs the stored key and checksum to match, so a hash collision, a
// torn or foreign file only costs a recompile. Writes are atomic (temporary
// file, then rename) and the directory is kept under a size limit by
// evicting the least recently used entries.
//
// An entry is the file `<key digest hex>.kobj`:
//
//   KILNOBJ1
//   version 1
//   parts 2
//   part 2 32 ir 3f2a9c...
//   part 7 4 backend llvm
//   payload 5120
//   checksum 9c1d0e6a2b3f4c5d
//   <payload: 5120 bytes>
//
// `part <name length> <value length> <name> <value>` lines carry the key
// exactly (lengths in bytes, so names and values may hold any byte); the
// checksum is a 64-bit hash of the key and the payload.
#pragma once

#include "key.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::cache {

/// A directory of cache entries with a size limit. Methods may be called
/// from several threads at once, and several processes may share the
/// directory.
///
///   DiskCache disk(default_cache_dir() / "llvm", default_max_bytes());
///   if (auto obj = disk.load(key)) return link(*obj);
///   std::string obj = compile(m);
///   disk.store(key, obj);
class DiskCache {
 public:
  /// Uses `dir`, creating it (mode 0700; a directory that exists keeps its
  /// mode) when missing. Throws kiln::CompileError naming the directory when
  /// it cannot be created or written: set KILN_CACHE_DIR to a writable one.
  DiskCache(std::filesystem::path dir, uint64_t max_bytes);

  /// The payload stored under `key`, or nullopt. A damaged entry (bad magic,
  /// version, length or checksum) or one stored under a different key with
  /// the same digest is removed and reads as a miss. A hit marks the entry
  /// recently used.
  std::optional<std::string> load(const Key& key);
  /// Stores `payload` under `key`, replacing any entry there, then evicts
  /// the least recently used entries until the directory's entries total at
  /// most max_bytes (never the one just written). The directory is counted
  /// at this process's first store there and then each time it has written
  /// max_bytes / 16 since, so it may exceed the limit by that much per
  /// process. Throws kiln::CompileError when the directory cannot be
  /// written.
  void store(const Key& key, std::string_view payload);
  /// Why `key` missed, for logs: which parts of the nearest entry's key
  /// differ, e.g. `nearest entry 3f2a9c0d81e4...: "options" differs (entry:
  /// fast_math=1, wanted: fast_math=0)`, or that the cache is empty or no
  /// entry shares a part with `key`. Reads entry headers only.
  std::string explain_miss(const Key& key) const;
  /// Bytes held by the directory's entries (temporary files not counted).
  uint64_t total_bytes() const;

  /// The directory.
  const std::filesystem::path& dir() const { return dir_; }
  /// The file an entry for `key` lives in (it may not exist).
  std::filesystem::path path(const Key& key) const;

 private:
  void evict(const std::filesystem::path& keep) const;

  std::filesystem::path dir_;
  uint64_t max_bytes_;
};

/// Where kiln caches compiled code: $KILN_CACHE_DIR, else
/// $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln, else <tmp>/kiln-<uid>.
/// Backends keep their entries in a subdirectory (`/ "llvm"`). Creates nothing.
std::filesystem::path default_cache_dir();

/// The size limit of a backend's disk cache: $KILN_CACHE_MAX_MB MiB, else
/// 512 MiB. Throws kiln::CompileError when the variable is not a whole number.
uint64_t default_max_bytes();

/// Whether backends use their disk caches: false when $KILN_DISK_CACHE is
/// 0 or off.
bool disk_cache_enabled();

}  // namespace kiln::cache
