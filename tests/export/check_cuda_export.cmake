# Compiles every exported CUDA file alone with nvcc; run by CTest as
#   cmake -DNVCC=... -DOUT_DIR=... -DWORK_DIR=... -P check_cuda_export.cmake
# OUT_DIR holds what kiln_export_programs wrote (<name>.cu per program,
# optimised and unoptimised). Every file must compile with
# `nvcc -arch=sm_90 -c -Werror all-warnings`; every file is tried before
# failing, so one run shows every broken file. Without nvcc the test says
# so and exits 77 (reported skipped, not passed).
cmake_minimum_required(VERSION 3.25)

foreach(var OUT_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_cuda_export.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED NVCC OR "${NVCC}" STREQUAL "" OR "${NVCC}" MATCHES "NOTFOUND$" OR NOT EXISTS "${NVCC}")
  message("[export.nvcc] skipped: nvcc not found (kiln was configured without the CUDA toolkit)")
  cmake_language(EXIT 77)
endif()

file(GLOB sources "${OUT_DIR}/*.cu")
list(LENGTH sources count)
if(count EQUAL 0)
  message(FATAL_ERROR "[export.nvcc] no .cu files in ${OUT_DIR}: did export.generate run?")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")
set(failed "")
foreach(src ${sources})
  get_filename_component(name "${src}" NAME_WE)
  execute_process(COMMAND "${NVCC}" -arch=sm_90 -std=c++17 -Werror all-warnings -c "${src}" -o "${WORK_DIR}/${name}.o"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message("[export.nvcc] ${name}.cu does not compile:\n${out}")
    list(APPEND failed ${name})
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "[export.nvcc] ${count} files, these failed: ${failed}")
endif()
message("[export.nvcc] all ${count} exported .cu files compile with nvcc -arch=sm_90")
