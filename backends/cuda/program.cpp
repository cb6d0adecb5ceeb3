// Calling a CUDA program. Host buffers are copied to the device for the
// call and the written ones back; device buffers (a kiln::DeviceArray, or
// memory the user got from cudaMalloc) are used where they are. Launches
// go in order on the default stream, and one synchronisation at the end
// covers them all.
#include "program.h"

#include <kiln/error.h>

#include "nvrtc.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace kiln::cuda {
namespace {

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

bool on_device(const Driver& d, const void* p) {
  unsigned int type = 0;
  // Plain host memory is unknown to the driver: CUDA_ERROR_INVALID_VALUE.
  return d.pointer_get_attribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, address(p)) == CUDA_SUCCESS &&
         type == CU_MEMORYTYPE_DEVICE;
}

// The device side of one call's buffer arguments. Host buffers that share
// bytes (the same span passed twice, or overlapping spans) share one
// device allocation, so a write through one is seen through the other as
// on the CPU backends; each host byte keeps its address modulo 256 on the
// device, so elements stay aligned however the buffers overlap.
class Staging {
 public:
  Staging(const Driver& d, const std::vector<ir::Type>& params, const detail::Slot* args)
      : d_(d), device_(params.size(), 0) {
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].kind != ir::TypeKind::buf || args[i].size <= 0 || !args[i].p) continue;
      if (on_device(d, args[i].p)) {
        device_[i] = address(args[i].p);
        continue;
      }
      const uintptr_t lo = address(args[i].p);
      host_.push_back({i, lo, lo + static_cast<uintptr_t>(args[i].size) * ir::byte_width(params[i].elem), params[i].writable});
    }
    std::sort(host_.begin(), host_.end(), [](const Host& a, const Host& b) { return a.lo < b.lo; });
    for (size_t first = 0; first < host_.size();) {
      const uintptr_t lo = host_[first].lo;
      uintptr_t hi = host_[first].hi;
      size_t last = first + 1;
      for (; last < host_.size() && host_[last].lo < hi; ++last) hi = std::max(hi, host_[last].hi);
      const uintptr_t pad = lo % 256;  // cuMemAlloc returns at least 256-byte aligned memory
      const CUdeviceptr base = memory_.emplace_back(d, pad + (hi - lo)).get() + pad;
      d.check(d.memcpy_htod(base, reinterpret_cast<const void*>(lo), hi - lo), "copying a buffer to the device");
      for (size_t k = first; k < last; ++k) device_[host_[k].param] = base + (host_[k].lo - lo);
      first = last;
    }
  }

  CUdeviceptr pointer(size_t param) const { return device_[param]; }

  void copy_back() const {
    for (const Host& h : host_)
      if (h.writable)
        d_.check(d_.memcpy_dtoh(reinterpret_cast<void*>(h.lo), device_[h.param], h.hi - h.lo),
                 "copying a buffer back from the device");
  }

 private:
  struct Host {
    size_t param;
    uintptr_t lo, hi;
    bool writable;
  };
  const Driver& d_;
  std::vector<CUdeviceptr> device_;  // per parameter; 0 for scalars and empty buffers
  std::vector<Host> host_;
  std::vector<DeviceMemory> memory_;
};

// One kernel parameter, in storage that cuLaunchKernel reads sizeof(the
// parameter's type) bytes from.
union Cell {
  bool b;
  int32_t i32;
  long long i64;
  float f32;
  double f64;
  CUdeviceptr ptr;
};

Cell cell_of(ir::Scalar s, const detail::Slot& slot) {
  Cell c{};
  switch (s) {
    case ir::Scalar::i1: c.b = slot.i != 0; break;
    case ir::Scalar::i32: c.i32 = static_cast<int32_t>(slot.i); break;
    case ir::Scalar::i64: c.i64 = slot.i; break;
    case ir::Scalar::f32: c.f32 = slot.f32; break;
    case ir::Scalar::f64: c.f64 = slot.f64; break;
  }
  return c;
}

Cell pointer_cell(CUdeviceptr p) {
  Cell c{};
  c.ptr = p;
  return c;
}

Cell size_cell(int64_t n) {
  Cell c{};
  c.i64 = n;
  return c;
}

}  // namespace

Program::Program(emit::CudaModule emitted, std::string ptx, std::string name, bool fast_math, std::vector<ir::Type> params)
    : emitted_(std::move(emitted)), ptx_(std::move(ptx)), name_(std::move(name)), fast_math_(fast_math),
      params_(std::move(params)) {}

Program::~Program() {
  // Only a call loads the module, so the driver is there.
  const Driver* d = driver();
  if (module_ && d && d->ctx_set_current(d->context) == CUDA_SUCCESS) d->module_unload(module_);
}

void Program::load(const Driver& d) const {
  if (module_) return;
  CUmodule m = nullptr;
  if (CUresult r = d.module_load_data(&m, ptx_.c_str()); r != CUDA_SUCCESS) {
    // The PTX may be newer than this driver reads (NVRTC 13 with a CUDA 12
    // driver) or for a newer architecture than the device's: SASS compiled
    // for the device's own architecture needs neither.
    const std::string ptx_error = d.error_text(r);
    NvrtcOutput sass;
    try {
      sass = compile_cuda(emitted_.source, "@" + name_, {.arch = d.arch, .cubin = true, .fast_math = fast_math_});
    } catch (const CompileError& e) {
      throw CompileError("the CUDA driver cannot load the PTX of @" + name_ + " (" + ptx_error +
                         ") and NVRTC cannot compile it for the device's " + d.arch + ": " + e.what());
    }
    if (CUresult r2 = d.module_load_data(&m, sass.cubin.data()); r2 != CUDA_SUCCESS)
      throw CompileError("the CUDA driver cannot load @" + name_ + ": its PTX: " + ptx_error + "; a CUBIN for " + d.arch +
                         ": " + d.error_text(r2) + "; update the NVIDIA driver");
  }
  try {
    std::vector<Launch> launches;
    for (const emit::CudaLaunch& l : emitted_.launches) {
      Launch x;
      if (d.module_get_function(&x.function, m, l.kernel.c_str()) != CUDA_SUCCESS)
        throw InternalError("the CUDA module of @" + name_ + " has no kernel " + l.kernel +
                            " (emit_cuda's launches and source disagree)");
      if (l.grid) {
        // As many blocks as the GPU keeps resident at once: the kernel's
        // grid-stride loop covers any trip count with them.
        int min_grid = 0, block = 0, per_sm = 0;
        d.check(d.occupancy_max_potential_block_size(&min_grid, &block, x.function, nullptr, 0, 0),
                "cuOccupancyMaxPotentialBlockSize");
        d.check(d.occupancy_max_active_blocks(&per_sm, x.function, block, 0), "cuOccupancyMaxActiveBlocksPerMultiprocessor");
        x.block = static_cast<unsigned>(std::max(block, 1));
        x.grid = static_cast<unsigned>(std::max(d.sm_count * per_sm, 1));
      }
      launches.push_back(x);
    }
    size_t bytes = 0;
    if (d.module_get_global(&error_flag_, &bytes, m, "kiln_error_flag") != CUDA_SUCCESS) error_flag_ = 0;
    if (d.module_get_global(&error_message_, &error_message_bytes_, m, "kiln_error_message") != CUDA_SUCCESS)
      error_message_bytes_ = 0;
    launches_ = std::move(launches);
    module_ = m;
  } catch (...) {
    d.module_unload(m);
    throw;
  }
}

void Program::run(const detail::Slot* args, detail::Slot* out) const {
  const Driver* d = driver();
  if (!d) throw RuntimeError(no_device_message("run @" + name_));
  std::lock_guard<std::mutex> lock(mu_);
  d->make_current();
  load(*d);

  const Staging buffers(*d, params_, args);
  const size_t ni = std::max<size_t>(emitted_.int_slots, 1), nf = std::max<size_t>(emitted_.float_slots, 1);
  DeviceMemory slots_i(*d, ni * sizeof(long long)), slots_f(*d, nf * sizeof(double));
  d->check(d->memset_d8(slots_i.get(), 0, slots_i.bytes()), "cuMemsetD8");
  d->check(d->memset_d8(slots_f.get(), 0, slots_f.bytes()), "cuMemsetD8");
  if (error_flag_) d->check(d->memset_d8(error_flag_, 0, sizeof(unsigned)), "clearing kiln_error_flag");

  // The parameter convention of codegen/emit/cuda.h: the entry's
  // parameters (a buffer as pointer and size), then both slot arrays.
  std::vector<Cell> cells;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].kind == ir::TypeKind::buf) {
      cells.push_back(pointer_cell(buffers.pointer(i)));
      cells.push_back(size_cell(args[i].size));
    } else {
      cells.push_back(cell_of(params_[i].elem, args[i]));
    }
  }
  // The entry's temporaries (tensor lowering's allocs), fresh per call.
  std::vector<DeviceMemory> scratch;
  for (const emit::CudaScratch& s : emitted_.scratch) {
    scratch.emplace_back(*d, static_cast<size_t>(s.count) * ir::byte_width(s.type) + 1);
    cells.push_back(pointer_cell(scratch.back().get()));
    cells.push_back(size_cell(s.count));
  }
  cells.insert(cells.end(), {pointer_cell(slots_i.get()), size_cell(static_cast<int64_t>(ni)),
                             pointer_cell(slots_f.get()), size_cell(static_cast<int64_t>(nf))});
  std::vector<void*> params;
  for (Cell& c : cells) params.push_back(&c);

  for (size_t k = 0; k < launches_.size(); ++k) {
    const Launch& l = launches_[k];
    d->check(d->launch_kernel(l.function, l.grid, 1, 1, l.block, 1, 1, 0, nullptr, params.data(), nullptr),
             ("launching " + emitted_.launches[k].kernel + " of @" + name_).c_str());
  }
  if (CUresult r = d->ctx_synchronize(); r != CUDA_SUCCESS)
    throw RuntimeError("CUDA driver: running @" + name_ + " failed: " + d->error_text(r) +
                       (r == CUDA_ERROR_ILLEGAL_ADDRESS
                            ? "; CUDA kernels do not check buffer bounds: check the indices (Backend::interp does)"
                            : "") +
                       "; after such an error the driver refuses further work in this process");

  unsigned flag = 0;
  if (error_flag_) d->check(d->memcpy_dtoh(&flag, error_flag_, sizeof flag), "reading kiln_error_flag");
  buffers.copy_back();  // what ran before a trap is written, as on the CPU backends
  if (flag) {
    std::string message(error_message_bytes_, '\0');
    if (error_message_bytes_)
      d->check(d->memcpy_dtoh(message.data(), error_message_, error_message_bytes_), "reading kiln_error_message");
    message.resize(strnlen(message.c_str(), message.size()));
    throw RuntimeError(message.empty() ? "@" + name_ + " trapped on the GPU" : message);
  }

  std::vector<long long> ints(ni);
  std::vector<double> floats(nf);
  d->check(d->memcpy_dtoh(ints.data(), slots_i.get(), slots_i.bytes()), "reading the integer results");
  d->check(d->memcpy_dtoh(floats.data(), slots_f.get(), slots_f.bytes()), "reading the float results");
  for (size_t k = 0; k < emitted_.results.size(); ++k) {
    const emit::CudaResult& r = emitted_.results[k];
    if (!r.floating) out[k].i = ints.at(r.slot);
    else if (r.type == ir::Scalar::f32) out[k].f32 = static_cast<float>(floats.at(r.slot));
    else out[k].f64 = floats.at(r.slot);
  }
}

}  // namespace kiln::cuda
