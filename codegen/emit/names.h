// Identifiers for generated C-family source. Any user string (a stage name,
// a parameter name) becomes a valid identifier that cannot inject code, and
// every name in one scope is distinct.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace kiln::emit {

/// A valid C, C++ and CUDA identifier made from any string: letters, digits
/// and '_' are kept, other ASCII characters become '_', a non-ASCII
/// character becomes uXXXX (its code point; an invalid UTF-8 byte xHH), runs
/// of '_' collapse (names with "__" or a leading '_' are reserved in C++),
/// a leading digit or an empty result gets a 'v' in front, and a C++ keyword
/// or a name the generated file uses itself (std, main, sin, INT64_MIN,
/// kiln_...) gets a '_' behind.
std::string sanitize(std::string_view user);

/// True for a name the C library declares in a generated file's headers.
bool c_library_name(const std::string& name);

/// The identifiers of one scope. take() sanitises and then makes the name
/// distinct from every earlier one by a suffix _2, _3, ...; fresh() numbers
/// temporaries: t0, t1, ... skipping names already taken.
class Namer {
 public:
  /// A scope nested in `outer` (names taken there stay taken here).
  explicit Namer(const Namer* outer = nullptr) : outer_(outer) {}

  std::string take(std::string_view user);
  /// take() for a name with C linkage: a C library function's name (sin,
  /// select, ...) gets a '_' behind, so the symbol neither clashes with a
  /// declaration nor interposes the C library.
  std::string take_c_symbol(std::string_view user);
  std::string fresh(std::string_view prefix);
  bool taken(const std::string& name) const;
  /// Marks `name` taken as it is (a name the generated file's headers
  /// declare, which take() must avoid).
  void reserve(std::string name) { taken_.insert(std::move(name)); }

 private:
  std::string claim(std::string name);
  std::string take_base(std::string base);
  const Namer* outer_;
  std::set<std::string> taken_;
  std::map<std::string, size_t, std::less<>> counters_;
};

}  // namespace kiln::emit
