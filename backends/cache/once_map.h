// A thread-safe in-memory cache that builds each value once: the compiled
// kernels of a process, keyed by their cache key's digest. Threads asking
// for a key that is being built wait for that build instead of repeating it.
#pragma once

#include <kiln/error.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace kiln::cache {

/// Values of type V by string key, each made once and kept (strongly) until
/// clear(). Safe to use from any number of threads.
///
///   OnceMap<Kernel> kernels;
///   std::shared_ptr<Kernel> k = kernels.get_or_make(key.digest().hex(), [&] { return jit(m); });
template <class V>
class OnceMap {
 public:
  /// The value for `key`, made by `make()` if there is none yet. `make`
  /// returns a V or a std::shared_ptr<V> (for an abstract V). If several
  /// threads ask for a missing key at once, one runs `make` and the others
  /// wait for its result; makes for different keys run in parallel. If
  /// `make` throws, every caller waiting on it gets the exception and
  /// nothing is kept, so a later call tries again. `make` must not ask for
  /// its own key (that throws kiln::InternalError instead of deadlocking).
  template <class F>
  std::shared_ptr<V> get_or_make(const std::string& key, F make) {
    std::promise<std::shared_ptr<V>> promise;
    std::shared_future<std::shared_ptr<V>> pending;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(key);
      if (it == entries_.end()) {
        id = ++next_id_;
        entries_.emplace(key, Entry{promise.get_future().share(), id, std::this_thread::get_id()});
      } else {
        if (it->second.maker == std::this_thread::get_id() && !ready(it->second.value))
          throw InternalError("OnceMap: the make for key \"" + key + "\" asked for that key itself");
        pending = it->second.value;
      }
    }
    if (pending.valid()) return pending.get();  // rethrows what make threw
    try {
      std::shared_ptr<V> value = run(make);
      promise.set_value(value);
      return value;
    } catch (...) {
      // Forgotten before the waiters wake, so one that retries makes anew.
      forget(key, id);
      promise.set_exception(std::current_exception());
      throw;
    }
  }

  /// Keys held or being made.
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }
  /// Forgets every value (callers keep the pointers they have). Makes in
  /// progress still hand their result to the callers waiting on them.
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
  }

 private:
  struct Entry {
    std::shared_future<std::shared_ptr<V>> value;
    uint64_t id;             // tells this make's entry from a later one for the same key
    std::thread::id maker;   // the thread that runs make (looked at only until it is done)
  };

  template <class F>
  static std::shared_ptr<V> run(F& make) {
    if constexpr (std::is_convertible_v<std::invoke_result_t<F&>, std::shared_ptr<V>>) return make();
    else return std::make_shared<V>(make());
  }
  static bool ready(const std::shared_future<std::shared_ptr<V>>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  void forget(const std::string& key, uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.id == id) entries_.erase(it);
  }

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t next_id_ = 0;
};

}  // namespace kiln::cache
