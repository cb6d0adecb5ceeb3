// The exceptions kiln throws. Three channels, never mixed: user errors
// (StagingError, ShapeError, RuntimeError), backend errors (CompileError) and
// broken internal invariants (InternalError). User-facing messages name the
// user's file:line and say what to do.
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>

namespace kiln {

/// Base of every kiln exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The staged program is misused: types, staged control flow outside stage(),
/// a Rep from another staged function, ... Thrown while staging.
class StagingError : public Error {
 public:
  using Error::Error;
};

/// Sizes do not fit outside a staged program: a kiln::DeviceArray copied to
/// or from a span of another size. (Static tensor shapes that do not fit are
/// a StagingError, thrown at the op while staging; a buffer whose size does
/// not fit a tensor or a derivative's buffer is a RuntimeError at call time.)
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A staged program trapped while running: out-of-bounds buffer access,
/// integer division by zero, a zero loop step.
class RuntimeError : public Error {
 public:
  using Error::Error;
};

/// A backend failed to compile generated code; carries the tool's log.
class CompileError : public Error {
 public:
  using Error::Error;
};

/// A file kiln was asked to write (export_source) could not be written.
class IOError : public Error {
 public:
  using Error::Error;
};

/// A broken internal invariant (a kiln bug); says which pass broke what.
class InternalError : public Error {
 public:
  using Error::Error;
};

/// "file.cpp:42" for a source location ("<unknown location>" when empty).
std::string where(const std::source_location& loc);

/// Formats a user error message: "what (file:line): remedy".
std::string user_message(const std::string& what, const std::source_location& loc,
                         const std::string& remedy);

}  // namespace kiln
