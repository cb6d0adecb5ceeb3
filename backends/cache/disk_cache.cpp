// The disk cache. Files are read through one descriptor, so what is
// checked, touched and (when damaged) removed is the file that was read,
// even while other processes rename new entries over it. Every failure to
// read is a miss; only failures to write are errors, because they mean the
// cache cannot work at all.
#include "disk_cache.h"

#include <kiln/error.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view magic = "KILNOBJ1";
constexpr uint64_t format_version = 1;
constexpr std::string_view extension = ".kobj";
// explain_miss() reads this much of each entry for its header (a few hundred
// bytes, more with a long CPU feature list), then up to the larger limit.
constexpr size_t header_read_sizes[] = {16 << 10, 1 << 20};
// Temporary files older than this were left by a writer that died.
constexpr auto stale_temporary = std::chrono::hours(1);

std::atomic<uint64_t> temp_serial{0};

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t checksum(const Key& key, std::string_view payload) {
  Hasher h;
  h.add_bytes("kiln.cache.checksum").add_word(key.parts.size());
  for (const auto& [name, value] : key.parts) h.add_bytes(name).add_bytes(value);
  return h.add_bytes(payload).finish().lo;
}

struct Header {
  Key key;
  uint64_t payload_size = 0;
  uint64_t checksum = 0;
  size_t size = 0;  // bytes of header text before the payload
};

std::string header_text(const Key& key, uint64_t payload_size, uint64_t sum) {
  std::string out = std::string(magic) + "\nversion " + std::to_string(format_version) + "\nparts " +
                    std::to_string(key.parts.size()) + "\n";
  for (const auto& [name, value] : key.parts)
    out += "part " + std::to_string(name.size()) + " " + std::to_string(value.size()) + " " + name + " " + value + "\n";
  return out + "payload " + std::to_string(payload_size) + "\nchecksum " + hex64(sum) + "\n";
}

// A lenient reader of the header; parse_header() then insists on the
// canonical text, so a header is accepted only if it is byte for byte what
// header_text() writes.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view s) : s_(s) {}

  bool literal(std::string_view lit) {
    if (s_.substr(at_, lit.size()) != lit) return false;
    at_ += lit.size();
    return true;
  }
  bool number(uint64_t& v, int base = 10) {
    auto [end, ec] = std::from_chars(s_.data() + at_, s_.data() + s_.size(), v, base);
    if (ec != std::errc()) return false;
    at_ = static_cast<size_t>(end - s_.data());
    return true;
  }
  bool bytes(uint64_t n, std::string& out) {
    if (n > s_.size() - at_) return false;
    out.assign(s_.substr(at_, n));
    at_ += n;
    return true;
  }
  size_t at() const { return at_; }

 private:
  std::string_view s_;
  size_t at_ = 0;
};

std::optional<Header> parse_header(std::string_view s) {
  HeaderReader r(s);
  Header h;
  uint64_t version = 0, nparts = 0;
  if (!r.literal(magic) || !r.literal("\nversion ") || !r.number(version) || version != format_version ||
      !r.literal("\nparts ") || !r.number(nparts) || !r.literal("\n"))
    return std::nullopt;
  for (uint64_t i = 0; i < nparts; ++i) {
    uint64_t nlen = 0, vlen = 0;
    std::string name, value;
    if (!r.literal("part ") || !r.number(nlen) || !r.literal(" ") || !r.number(vlen) || !r.literal(" ") ||
        !r.bytes(nlen, name) || !r.literal(" ") || !r.bytes(vlen, value) || !r.literal("\n"))
      return std::nullopt;
    h.key.parts.emplace_back(std::move(name), std::move(value));
  }
  if (!r.literal("payload ") || !r.number(h.payload_size) || !r.literal("\nchecksum ") || !r.number(h.checksum, 16) ||
      !r.literal("\n"))
    return std::nullopt;
  h.size = r.at();
  if (header_text(h.key, h.payload_size, h.checksum) != s.substr(0, h.size)) return std::nullopt;
  return h;
}

// An open entry: its descriptor (for touching it) and identity (for
// removing it only if the name still means this file).
struct OpenFile {
  int fd = -1;
  struct stat st {};
  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd >= 0) close(fd);
  }
};

// Reads up to `limit` bytes of p; false when it cannot be opened or read.
bool read_file(const fs::path& p, OpenFile& f, std::string& out, size_t limit = SIZE_MAX) {
  f.fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0 || fstat(f.fd, &f.st) != 0 || !S_ISREG(f.st.st_mode)) return false;
  out.resize(std::min(static_cast<size_t>(f.st.st_size), limit));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = read(f.fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Removes p if it is still the file f was opened from: another process may
// have renamed a good entry over it since.
void remove_if_same(const fs::path& p, const OpenFile& f) {
  struct stat now {};
  if (stat(p.c_str(), &now) != 0 || now.st_dev != f.st.st_dev || now.st_ino != f.st.st_ino) return;
  std::error_code ec;
  fs::remove(p, ec);
}

[[noreturn]] void unusable(const fs::path& dir, const std::string& why) {
  throw CompileError("cannot use kiln's cache directory " + dir.string() + ": " + why +
                     "; set KILN_CACHE_DIR to a writable directory");
}

// Creates dir and any missing parents, each private (0700); directories the
// user made keep their mode.
void create_private(const fs::path& dir, std::error_code& ec) {
  if (dir.empty() || fs::exists(dir, ec)) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) create_private(dir.parent_path(), ec);
  if (ec) return;
  if (fs::create_directory(dir, ec)) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  create_private(dir, ec);
  if (ec) unusable(dir, ec.message());
  if (!fs::is_directory(dir, ec)) unusable(dir, "not a directory");
  if (access(dir.c_str(), W_OK | X_OK) != 0) unusable(dir, std::strerror(errno));
}

void write_all(const fs::path& p, std::string_view a, std::string_view b) {
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw std::system_error(errno, std::generic_category());
  for (std::string_view part : {a, b}) {
    while (!part.empty()) {
      ssize_t n = write(fd, part.data(), part.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int e = n < 0 ? errno : EIO;
        close(fd);
        throw std::system_error(e, std::generic_category());
      }
      part.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (close(fd) != 0) throw std::system_error(errno, std::generic_category());
}

struct Entry {
  fs::path path;
  uint64_t size = 0;
  fs::file_time_type used;
};

// The directory's entries; with `tidy`, also removes the temporary files of
// writers that died.
std::vector<Entry> scan(const fs::path& dir, bool tidy = false) {
  std::vector<Entry> out;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code e;
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      auto t = it->last_write_time(e);
      if (tidy && !e && now - t > stale_temporary) fs::remove(p, e);
      continue;
    }
    if (p.extension() != extension || !it->is_regular_file(e)) continue;
    std::error_code size_error, time_error;  // an entry another process just removed
    Entry entry{p, it->file_size(size_error), it->last_write_time(time_error)};
    if (!size_error && !time_error) out.push_back(std::move(entry));
  }
  return out;
}

// Long values (CPU feature lists) are shown around where they differ.
std::pair<std::string, std::string> around_difference(const std::string& a, const std::string& b) {
  constexpr size_t short_enough = 60, context = 12;
  if (a.size() <= short_enough && b.size() <= short_enough) return {a, b};
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  auto cut = [&](const std::string& s) {
    size_t from = pre > context ? pre - context : 0;
    size_t to = s.size() - (suf > context ? suf - context : 0);
    return (from ? "..." : "") + s.substr(from, to - from) + (to < s.size() ? "..." : "");
  };
  return {cut(a), cut(b)};
}

std::string shorten(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

const std::string* find_part(const Key& k, const std::string& name) {
  for (const auto& [n, v] : k.parts)
    if (n == name) return &v;
  return nullptr;
}

std::string differences(const Key& entry, const Key& wanted) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  for (const auto& [name, value] : wanted.parts) {
    const std::string* had = find_part(entry, name);
    if (!had) {
      add("\"" + name + "\" is missing from the entry (wanted: " + shorten(value) + ")");
      continue;
    }
    if (*had == value) continue;
    auto [e, w] = around_difference(*had, value);
    add("\"" + name + "\" differs (entry: " + e + ", wanted: " + w + ")");
  }
  for (const auto& [name, value] : entry.parts)
    if (!find_part(wanted, name)) add("the entry has \"" + name + "\", the key does not");
  return out.empty() ? "the same parts in a different order" : out;
}

}  // namespace

DiskCache::DiskCache(fs::path dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {
  ensure_directory(dir_);
}

fs::path DiskCache::path(const Key& key) const { return dir_ / (key.digest().hex() + std::string(extension)); }

std::optional<std::string> DiskCache::load(const Key& key) {
  const fs::path p = path(key);
  OpenFile f;
  std::string bytes;
  if (!read_file(p, f, bytes)) return std::nullopt;
  std::optional<Header> h = parse_header(bytes);
  std::string_view payload = h ? std::string_view(bytes).substr(h->size) : std::string_view();
  if (!h || h->key != key || payload.size() != h->payload_size || checksum(key, payload) != h->checksum) {
    remove_if_same(p, f);
    return std::nullopt;
  }
  futimens(f.fd, nullptr);  // now: recently used
  bytes.erase(0, h->size);
  return bytes;
}

void DiskCache::store(const Key& key, std::string_view payload) {
  ensure_directory(dir_);  // it may have been removed since
  const fs::path p = path(key);
  const fs::path tmp = p.string() + ".tmp." + std::to_string(getpid()) + "." + std::to_string(temp_serial++);
  try {
    write_all(tmp, header_text(key, payload.size(), checksum(key, payload)), payload);
    fs::rename(tmp, p);
  } catch (const std::system_error& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    unusable(dir_, "cannot write " + p.filename().string() + ": " + e.code().message());
  }
  // Counting the directory costs a stat per entry (100,000 entries in a
  // full default cache), so a process counts it at its first store there
  // and then once it has written a sixteenth of the limit since: the
  // directory may exceed the limit by that much per process, never more.
  {
    static std::mutex mu;
    static std::unordered_map<std::string, uint64_t> written;  // bytes since the last count, per directory
    std::lock_guard<std::mutex> lock(mu);
    auto [it, first] = written.try_emplace(dir_.string(), 0);
    it->second += payload.size();
    if (!first && it->second < max_bytes_ / 16) return;
    it->second = 0;
  }
  evict(p);
}

void DiskCache::evict(const fs::path& keep) const {
  std::vector<Entry> entries = scan(dir_, true);
  uint64_t total = 0;
  for (const Entry& e : entries) total += e.size;
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.used, a.path) < std::tie(b.used, b.path); });
  for (const Entry& e : entries) {
    if (total <= max_bytes_) return;
    if (e.path == keep) continue;
    std::error_code ec;
    if (!fs::remove(e.path, ec) && ec) continue;
    total -= e.size;  // gone, whether we or another process removed it
  }
}

uint64_t DiskCache::total_bytes() const {
  uint64_t total = 0;
  for (const Entry& e : scan(dir_)) total += e.size;
  return total;
}

std::string DiskCache::explain_miss(const Key& key) const {
  struct Candidate {
    std::vector<bool> agrees;  // per part of `key`
    size_t count = 0;
    std::string name;
    Key key;
  };
  std::optional<Candidate> best;
  size_t readable = 0;
  std::vector<Entry> entries = scan(dir_);
  // Ties go to the entry agreeing on earlier parts, then to the name, so the
  // answer does not depend on directory order.
  auto better = [](const Candidate& a, const Candidate& b) {
    return std::tie(a.count, a.agrees) > std::tie(b.count, b.agrees) ||
           (std::tie(a.count, a.agrees) == std::tie(b.count, b.agrees) && a.name < b.name);
  };
  for (const Entry& e : entries) {
    std::optional<Header> h;
    for (size_t limit : header_read_sizes) {
      OpenFile f;
      std::string bytes;
      if (!read_file(e.path, f, bytes, limit)) break;
      h = parse_header(bytes);
      if (h || bytes.size() < limit) break;
    }
    if (!h) continue;
    ++readable;
    Candidate c{{}, 0, e.path.stem().string(), std::move(h->key)};
    for (const auto& [name, value] : key.parts) {
      const std::string* v = find_part(c.key, name);
      c.agrees.push_back(v && *v == value);
      c.count += c.agrees.back();
    }
    if (!best || better(c, *best)) best = std::move(c);
  }
  if (readable == 0) return "the cache " + dir_.string() + " is empty";
  if (best->count == 0)
    return "no entry is close: none of the " + std::to_string(readable) + " entries in " + dir_.string() +
           " shares a part with the key";
  const std::string name = best->name.substr(0, 12) + "...";
  if (best->key == key) return "entry " + name + " has this very key (stored since the miss?)";
  return "nearest entry " + name + " (of " + std::to_string(readable) + "): " + differences(best->key, key);
}

fs::path default_cache_dir() {
  if (const char* d = std::getenv("KILN_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "kiln";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "kiln";
  return fs::temp_directory_path() / ("kiln-" + std::to_string(getuid()));
}

bool disk_cache_enabled() {
  const char* v = std::getenv("KILN_DISK_CACHE");
  return !(v && (std::string_view(v) == "0" || std::string_view(v) == "off"));
}

uint64_t default_max_bytes() {
  constexpr uint64_t mib = 1 << 20;
  const char* v = std::getenv("KILN_CACHE_MAX_MB");
  if (!v || !*v) return 512 * mib;
  std::string_view s = v;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n > UINT64_MAX / mib)
    throw CompileError("KILN_CACHE_MAX_MB=" + std::string(s) +
                       " is not a whole number of MiB: set it to the cache's size limit, e.g. 512");
  return n * mib;
}

}  // namespace kiln::cache
