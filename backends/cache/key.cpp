// Cache keys.
#include "key.h"

namespace kiln::cache {

Digest Key::digest() const {
  Hasher h;
  h.add_bytes("kiln.cache.key").add_word(parts.size());
  for (const auto& [name, value] : parts) h.add_bytes(name).add_bytes(value);
  return h.finish();
}

std::string Key::describe() const {
  std::string out;
  for (const auto& [name, value] : parts) out += name + ": " + value + "\n";
  return out;
}

}  // namespace kiln::cache
