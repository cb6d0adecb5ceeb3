// The disk cache: round trips, persistence across objects and processes,
// recovery from damaged files, LRU eviction, miss explanations, the
// directory's mode and errors, and the defaults from the environment.
#include "backends/cache/disk_cache.h"

#include <kiln/error.h>

#include "support.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using Catch::Matchers::Contains;
using kiln::cache::DiskCache;
using kiln::cache::Key;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t plenty = 1 << 30;

/// A fresh path for one test's cache directory (not created), removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("kiln-test-disk-cache-" + std::to_string(getpid()) + "-" + std::to_string(serial++));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static inline std::atomic<int> serial{0};
};

/// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// A key shaped like the LLVM backend's.
Key key(const std::string& ir, const std::string& options = "fast_math=0",
        const std::string& cpu = "skylake-avx512 +avx2,+fma") {
  return Key{{{"ir", ir}, {"backend", "llvm"}, {"options", options}, {"llvm", "19.1.7"}, {"cpu", cpu}}};
}

/// n bytes of every value, newlines and NULs included.
std::string payload(size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + seed) & 0xff);
  return s;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

bool has_temporaries(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

/// Runs `fn` in a child process; true when it returned normally.
bool in_child(const std::function<void()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    try {
      fn();
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("DiskCache: a stored payload loads back byte for byte; other keys miss", "[cache][disk]") {
  TempDir tmp;
  DiskCache cache(tmp.path, plenty);
  const std::string bytes = payload(1000);
  cache.store(key("a"), bytes);
  CHECK(cache.load(key("a")) == bytes);
  CHECK(!cache.load(key("b")));
  CHECK(!cache.load(key("a", "fast_math=1")));
  CHECK(fs::exists(cache.path(key("a"))));
  CHECK(cache.path(key("a")).filename() == key("a").digest().hex() + ".kobj");
  CHECK(cache.total_bytes() == fs::file_size(cache.path(key("a"))));

  cache.store(key("a"), "replaced");
  CHECK(cache.load(key("a")) == "replaced");
  cache.store(key("empty"), "");
  CHECK(cache.load(key("empty")) == "");
  CHECK(!has_temporaries(tmp.path));
}

TEST_CASE("DiskCache: entries persist across DiskCache objects", "[cache][disk]") {
  TempDir tmp;
  DiskCache(tmp.path, plenty).store(key("a"), payload(300, 1));
  DiskCache again(tmp.path, plenty);
  CHECK(again.load(key("a")) == payload(300, 1));
}

TEST_CASE("DiskCache: an entry another process stored loads", "[cache][disk]") {
  TempDir tmp;
  REQUIRE(in_child([&] { DiskCache(tmp.path, plenty).store(key("child"), payload(5000, 2)); }));
  CHECK(DiskCache(tmp.path, plenty).load(key("child")) == payload(5000, 2));
}

TEST_CASE("DiskCache: processes and threads writing the same key at once leave a whole entry",
          "[cache][disk][concurrency]") {
  TempDir tmp;
  DiskCache cache(tmp.path, plenty);
  // Every writer stores a different payload for the same key; a reader
  // must only ever see one of them whole.
  const size_t writers = 4, rounds = 25, size = 20000;
  std::vector<pid_t> children;
  for (unsigned w = 0; w < writers; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      try {
        DiskCache mine(tmp.path, plenty);
        for (size_t r = 0; r < rounds; ++r) mine.store(key("shared"), payload(size, w));
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t r = 0; r < rounds; ++r) {
        cache.store(key("shared"), payload(size, 10 + t));
        for (int i = 0; i < 3; ++i) {
          std::optional<std::string> got = cache.load(key("shared"));
          // payload(size, seed) starts with the byte seed.
          if (got && *got != payload(size, static_cast<unsigned char>((*got)[0]))) bad = true;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  CHECK(!bad);
  std::optional<std::string> last = cache.load(key("shared"));
  REQUIRE(last);
  CHECK(*last == payload(size, static_cast<unsigned char>((*last)[0])));
  CHECK(!has_temporaries(tmp.path));
}

TEST_CASE("DiskCache: a damaged or foreign entry is a miss and is removed", "[cache][disk]") {
  TempDir tmp;
  DiskCache cache(tmp.path, plenty);
  const Key k = key("victim");
  const fs::path p = cache.path(k);
  const std::string bytes = payload(64, 3);
  cache.store(k, bytes);
  const std::string good = read(p);
  auto recovers = [&](const std::string& damaged) {
    write(p, damaged);
    bool missed = !cache.load(k);
    bool removed = !fs::exists(p);
    cache.store(k, bytes);  // and the cache works again
    return missed && removed && cache.load(k) == bytes;
  };

  SECTION("truncated at every length") {
    for (size_t n = 0; n < good.size(); ++n) {
      INFO("kept " << n << " of " << good.size() << " bytes");
      CHECK(recovers(good.substr(0, n)));
    }
  }
  SECTION("any byte flipped") {
    for (size_t i = 0; i < good.size(); ++i)
      for (unsigned char mask : {0x01, 0x20, 0x80}) {
        std::string flipped = good;
        flipped[i] = static_cast<char>(flipped[i] ^ mask);
        INFO("byte " << i << " ^ " << int(mask) << " of " << good.size());
        CHECK(recovers(flipped));
      }
  }
  SECTION("bytes appended") { CHECK(recovers(good + "x")); }
  SECTION("empty") { CHECK(recovers("")); }
  SECTION("not a cache entry at all") { CHECK(recovers("\x7f" "ELF\x02\x01\x01 this is some other program's file\n")); }
  SECTION("another format version") {
    std::string other = good;
    other.replace(other.find("version 1"), 9, "version 2");
    CHECK(recovers(other));
  }
  SECTION("an entry for another key under this name (a digest collision)") {
    cache.store(key("intruder"), bytes);
    fs::rename(cache.path(key("intruder")), p);
    CHECK(!cache.load(k));
    CHECK(!fs::exists(p));
  }
}

TEST_CASE("DiskCache: the least recently used entries are evicted first", "[cache][disk]") {
  TempDir tmp;
  DiskCache probe(tmp.path, plenty);
  probe.store(key("p"), payload(500));
  const uint64_t size = fs::file_size(probe.path(key("p")));  // every entry below has this size
  fs::remove(probe.path(key("p")));

  DiskCache cache(tmp.path, 3 * size);
  for (const char* name : {"a", "b", "c"}) cache.store(key(name), payload(500));
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(cache.path(key("a")), now - std::chrono::seconds(300));
  fs::last_write_time(cache.path(key("b")), now - std::chrono::seconds(200));
  fs::last_write_time(cache.path(key("c")), now - std::chrono::seconds(100));
  REQUIRE(cache.load(key("a")));  // a is now the most recently used

  cache.store(key("d"), payload(500));
  CHECK(fs::exists(cache.path(key("a"))));
  CHECK(!fs::exists(cache.path(key("b"))));
  CHECK(fs::exists(cache.path(key("c"))));
  CHECK(fs::exists(cache.path(key("d"))));
  CHECK(cache.total_bytes() == 3 * size);

  cache.store(key("e"), payload(500));
  CHECK(!fs::exists(cache.path(key("c"))));
  CHECK(cache.total_bytes() == 3 * size);

  // An entry larger than the limit stays; everything else goes.
  DiskCache tiny(tmp.path, 1);
  tiny.store(key("f"), payload(500));
  CHECK(tiny.load(key("f")) == payload(500));
  CHECK(tiny.total_bytes() == size);
}

TEST_CASE("DiskCache: temporary files of dead writers are removed, and not counted", "[cache][disk]") {
  TempDir tmp;
  DiskCache cache(tmp.path, plenty);
  const fs::path stale = tmp.path / "0123.kobj.tmp.99999.0", fresh = tmp.path / "4567.kobj.tmp.99999.1";
  write(stale, payload(100));
  write(fresh, payload(100));
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
  CHECK(cache.total_bytes() == 0);
  cache.store(key("a"), "x");
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(fresh));  // may belong to a writer still at work
}

TEST_CASE("DiskCache: explain_miss names the parts where the nearest entry differs", "[cache][disk]") {
  TempDir tmp;
  DiskCache cache(tmp.path, plenty);
  CHECK_THAT(cache.explain_miss(key("a")), Contains("is empty"));

  cache.store(key("a", "fast_math=1"), "x");
  std::string why = cache.explain_miss(key("a", "fast_math=0"));
  CHECK_THAT(why, Contains("nearest entry " + key("a", "fast_math=1").digest().hex().substr(0, 12)) &&
                      Contains("\"options\" differs (entry: fast_math=1, wanted: fast_math=0)"));
  CHECK_THAT(why, !Contains("\"ir\"") && !Contains("\"cpu\""));

  // As near by count, but a different program: the entry for the same IR wins.
  cache.store(key("b", "fast_math=0"), "y");
  CHECK_THAT(cache.explain_miss(key("a", "fast_math=0")), Contains("\"options\" differs"));
  CHECK_THAT(cache.explain_miss(key("b", "fast_math=1")), Contains("(entry: fast_math=0, wanted: fast_math=1)"));

  // Long values are shown around where they differ.
  const std::string features = "+avx,+avx2,+bmi,+bmi2,+cx16,+f16c,+fma,+lzcnt,+movbe,+popcnt,+sse4.2,+xsave";
  cache.store(key("c", "fast_math=0", "skylake " + features + ",+avx512f"), "z");
  why = cache.explain_miss(key("c", "fast_math=0", "skylake " + features + ",+avx512bw"));
  CHECK_THAT(why, Contains("\"cpu\" differs (entry: ...") && Contains("avx512f, wanted: ...") && Contains("avx512bw)"));

  // A header longer than explain_miss reads at first.
  const std::string huge(40000, 'f');
  cache.store(key("d", "fast_math=0", huge), "w");
  CHECK_THAT(cache.explain_miss(key("d", "fast_math=0", huge + "g")),
             Contains("\"cpu\" differs (entry: ...ffffffffffff, wanted: ...ffffffffffffg)"));

  CHECK_THAT(cache.explain_miss(Key{{{"ir", "zzz"}, {"backend", "cuda"}}}), Contains("no entry is close"));
  CHECK_THAT(cache.explain_miss(Key{{{"ir", "a"}, {"backend", "llvm"}}}),
             Contains("the entry has \"options\", the key does not"));
  Key more = key("a", "fast_math=1");
  more.parts.emplace_back("target", "x86_64-linux-gnu");
  CHECK_THAT(cache.explain_miss(more), Contains("\"target\" is missing from the entry (wanted: x86_64-linux-gnu)"));
}

TEST_CASE("DiskCache: a directory it creates is private; one that exists keeps its mode", "[cache][disk]") {
  TempDir tmp;
  DiskCache created(tmp.path / "new", plenty);
  CHECK((fs::status(tmp.path / "new").permissions() & fs::perms::all) == fs::perms::owner_all);

  const fs::path shared = tmp.path / "shared";
  fs::create_directories(shared);
  const fs::perms mode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;
  fs::permissions(shared, mode, fs::perm_options::replace);
  DiskCache existing(shared, plenty);
  existing.store(key("a"), "x");
  CHECK((fs::status(shared).permissions() & fs::perms::all) == mode);

  // Removed while in use: the next store makes it again.
  fs::remove_all(tmp.path / "new");
  created.store(key("a"), "x");
  CHECK(created.load(key("a")) == "x");
}

TEST_CASE("DiskCache: an unusable directory is a CompileError naming it and KILN_CACHE_DIR", "[cache][disk]") {
  TempDir tmp;
  fs::create_directories(tmp.path);
  const fs::path file = tmp.path / "a-file";
  write(file, "x");
  const fs::path below = file / "cache";  // fails even for root
  auto msg = kiln::test::error_message<kiln::CompileError>([&] { (void)DiskCache(below, plenty); });
  CHECK_THAT(msg, Contains(below.string()) && Contains("set KILN_CACHE_DIR to a writable directory"));
  msg = kiln::test::error_message<kiln::CompileError>([&] { (void)DiskCache(file, plenty); });
  CHECK_THAT(msg, Contains(file.string()) && Contains("not a directory", Catch::CaseSensitive::No) &&
                      Contains("KILN_CACHE_DIR"));
}

TEST_CASE("default_cache_dir: KILN_CACHE_DIR, else XDG_CACHE_HOME, else HOME, else the temporary directory",
          "[cache][disk]") {
  ScopedEnv kiln_dir("KILN_CACHE_DIR", "/k"), xdg("XDG_CACHE_HOME", "/x"), home("HOME", "/h");
  CHECK(kiln::cache::default_cache_dir() == fs::path("/k"));
  {
    ScopedEnv unset("KILN_CACHE_DIR", "");
    CHECK(kiln::cache::default_cache_dir() == fs::path("/x/kiln"));
    ScopedEnv unset_xdg("XDG_CACHE_HOME", std::nullopt);
    CHECK(kiln::cache::default_cache_dir() == fs::path("/h/.cache/kiln"));
    ScopedEnv unset_home("HOME", std::nullopt);
    CHECK(kiln::cache::default_cache_dir() == fs::temp_directory_path() / ("kiln-" + std::to_string(getuid())));
  }
}

TEST_CASE("default_max_bytes: KILN_CACHE_MAX_MB in MiB, else 512 MiB", "[cache][disk]") {
  {
    ScopedEnv unset("KILN_CACHE_MAX_MB", std::nullopt);
    CHECK(kiln::cache::default_max_bytes() == 512ull << 20);
  }
  {
    ScopedEnv set("KILN_CACHE_MAX_MB", "64");
    CHECK(kiln::cache::default_max_bytes() == 64ull << 20);
  }
  ScopedEnv bad("KILN_CACHE_MAX_MB", "lots");
  auto msg = kiln::test::error_message<kiln::CompileError>([] { kiln::cache::default_max_bytes(); });
  CHECK_THAT(msg, Contains("KILN_CACHE_MAX_MB=lots") && Contains("whole number"));
}
