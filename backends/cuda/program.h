// A compiled CUDA program and what calling it takes: loading its module on
// the device (once), moving host buffers to the device and back, the slot
// arrays, the launches in order and the trap flag.
#pragma once

#include <kiln/compile.h>
#include <kiln/ir/ir.h>

#include "../../codegen/emit/cuda.h"
#include "driver.h"

#include <mutex>
#include <string>
#include <vector>

namespace kiln::cuda {

/// One emitted module with its PTX. Shared by every kernel compiled from
/// the same program (the backend's cache holds it for the process).
class Program {
 public:
  Program(emit::CudaModule emitted, std::string ptx, std::string name, bool fast_math, std::vector<ir::Type> params);
  /// Unloads the module if a call loaded it.
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  /// Runs the launches on `args` (one slot per entry parameter; buffers
  /// are host or device memory) and writes one slot per result to `out`.
  /// One call at a time per program: the module's trap flag is shared.
  /// Throws kiln::RuntimeError without a device, for a trap and for driver
  /// errors, kiln::CompileError when the driver cannot load the code.
  void run(const detail::Slot* args, detail::Slot* out) const;

  const emit::CudaModule& emitted() const { return emitted_; }
  const std::string& ptx() const { return ptx_; }

 private:
  struct Launch {
    CUfunction function = nullptr;
    unsigned grid = 1, block = 1;
  };
  void load(const Driver& d) const;  // with mu_ held

  emit::CudaModule emitted_;
  std::string ptx_;
  std::string name_;  // the entry's, for messages
  bool fast_math_;
  std::vector<ir::Type> params_;

  mutable std::mutex mu_;
  mutable CUmodule module_ = nullptr;  // loaded by the first call
  mutable std::vector<Launch> launches_;
  mutable CUdeviceptr error_flag_ = 0, error_message_ = 0;
  mutable size_t error_message_bytes_ = 0;
};

}  // namespace kiln::cuda
