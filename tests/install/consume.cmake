# Builds and runs one consumer project of kiln; run by CTest as
#   cmake -DMODE=find_package|add_subdirectory -D... -P consume.cmake
# (see tests/install/CMakeLists.txt for the variables). Fails on the first
# step that fails, with that step's output.
cmake_minimum_required(VERSION 3.25)

foreach(var MODE CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consume.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command, echoing it first; stops the test if it fails.
function(kiln_step what)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "[${MODE}] ${what}: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rv)
  if(NOT rv EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${what} failed (${rv})")
  endif()
endfunction()

# A fresh consumer build every time: a stale cache could hide a broken
# package (e.g. a kiln_DIR left over from an earlier run).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(consumer_build "${WORK_DIR}/build")

set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  "-DKILN_SANITIZE=${SANITIZE}"
  # Only the prefix given below may satisfy find_package(kiln).
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(C_COMPILER)
  list(APPEND configure_args "-DCMAKE_C_COMPILER=${C_COMPILER}")
endif()
if(LAUNCHER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}" "-DCMAKE_C_COMPILER_LAUNCHER=${LAUNCHER}")
  # ccache hashes the working directory when compiling with -g, so a Debug
  # build of kiln in another directory would always miss; the consumer's
  # debug info does not need the exact directory.
  set(ENV{CCACHE_NOHASHDIR} 1)
endif()

if(MODE STREQUAL "find_package")
  if(NOT KILN_BUILD_DIR)
    message(FATAL_ERROR "consume.cmake: -DKILN_BUILD_DIR=... is required for find_package")
  endif()
  set(prefix "${WORK_DIR}/prefix")
  kiln_step("install kiln" "${CMAKE_COMMAND}" --install "${KILN_BUILD_DIR}" --prefix "${prefix}")
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix}")
  # The installed kiln-opt reads IR and runs it.
  set(kir "${WORK_DIR}/twice.kir")
  file(WRITE "${kir}" "func @twice(%x: f64) -> (f64) {\n  %y = add %x, %x : f64\n  return %y\n}\n")
  execute_process(COMMAND "${prefix}/bin/kiln-opt" "${kir}" --run=interp --arg=21
    OUTPUT_VARIABLE opt_out RESULT_VARIABLE opt_rv)
  if(NOT opt_rv EQUAL 0 OR NOT opt_out STREQUAL "result 0: f64 42\n")
    message(FATAL_ERROR "[find_package] installed kiln-opt failed (${opt_rv}): '${opt_out}'")
  endif()
  message(STATUS "[find_package] installed bin/kiln-opt runs")
elseif(MODE STREQUAL "add_subdirectory")
  if(NOT EXISTS "${KILN_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR "consume.cmake: -DKILN_SOURCE_DIR=... must be kiln's source tree")
  endif()
  list(APPEND configure_args "-DKILN_SOURCE_DIR=${KILN_SOURCE_DIR}")
else()
  message(FATAL_ERROR "consume.cmake: unknown MODE '${MODE}'")
endif()

kiln_step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})

if(MODE STREQUAL "find_package")
  # The package must come from the prefix just installed, not from anywhere
  # else on the machine (a system kiln, the build tree).
  file(STRINGS "${consumer_build}/CMakeCache.txt" kiln_dir_line REGEX "^kiln_DIR:")
  string(REGEX REPLACE "^kiln_DIR:[A-Z]+=" "" kiln_dir "${kiln_dir_line}")
  cmake_path(IS_PREFIX prefix "${kiln_dir}" NORMALIZE from_prefix)
  if(NOT from_prefix)
    message(FATAL_ERROR "[find_package] kiln was found at '${kiln_dir}', not in the installed prefix '${prefix}'")
  endif()
  message(STATUS "[find_package] kiln_DIR = ${kiln_dir}")
endif()

kiln_step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}")
kiln_step("run consumer" "${consumer_build}/kiln_consumer")
message(STATUS "[${MODE}] consumer built and ran correctly")
