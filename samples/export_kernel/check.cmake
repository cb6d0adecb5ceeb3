# The export_kernel sample's test; run by CTest as
#   cmake -DSAMPLE=... -DCXX=... -DMAIN=.../main.cpp -DREADME=.../README.md -DWORK_DIR=... -P check.cmake
# Does what README.md tells a user to do, in WORK_DIR:
#   1. runs the sample, which writes poly.cpp and poly.h and prints the
#      interpreter's results;
#   2. copies main.cpp next to them and builds it with the README's `c++ ...`
#      command line (taken from README.md, so the two cannot drift apart);
#   3. runs the program and checks it prints the interpreter's lines.
cmake_minimum_required(VERSION 3.25)

foreach(var SAMPLE MAIN README WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check.cmake: -D${var}=... is required")
  endif()
endforeach()
if("${CXX}" STREQUAL "" OR "${CXX}" MATCHES "NOTFOUND$")
  message(FATAL_ERROR "[sample.export_kernel] c++ not found on PATH when this build was configured: "
                      "the README's build command needs it")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Lines `poly(x) = y` of a program's output.
function(poly_lines text out)
  string(REGEX MATCHALL "poly\\([^)]*\\) = [^\n]*" lines "${text}")
  set(${out} "${lines}" PARENT_SCOPE)
endfunction()

# 1. The sample.
execute_process(COMMAND "${SAMPLE}" "${WORK_DIR}" RESULT_VARIABLE rv OUTPUT_VARIABLE sample_out ERROR_VARIABLE sample_out)
message(STATUS "[sample.export_kernel] ${SAMPLE} ${WORK_DIR}\n${sample_out}")
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "[sample.export_kernel] the sample failed (${rv})")
endif()
foreach(f poly.cpp poly.h)
  if(NOT EXISTS "${WORK_DIR}/${f}")
    message(FATAL_ERROR "[sample.export_kernel] the sample did not write ${f}")
  endif()
endforeach()
poly_lines("${sample_out}" interp_lines)
list(LENGTH interp_lines n)
if(n EQUAL 0)
  message(FATAL_ERROR "[sample.export_kernel] the sample printed no `poly(x) = y` lines")
endif()

# 2. The README's build command, run as written (`c++` is the one found on PATH).
file(STRINGS "${README}" build_lines REGEX "^c\\+\\+ .*main\\.cpp")
list(LENGTH build_lines k)
if(NOT k EQUAL 1)
  message(FATAL_ERROR "[sample.export_kernel] README.md should show exactly one `c++ ... main.cpp ...` line, found ${k}")
endif()
separate_arguments(build UNIX_COMMAND "${build_lines}")
list(POP_FRONT build)  # c++
file(COPY "${MAIN}" DESTINATION "${WORK_DIR}")
message(STATUS "[sample.export_kernel] ${build_lines}")
execute_process(COMMAND "${CXX}" ${build} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rv)
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "[sample.export_kernel] the README's build command failed (${rv})")
endif()

# 3. The program, against the interpreter.
execute_process(COMMAND "${WORK_DIR}/poly" WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rv OUTPUT_VARIABLE main_out)
message(STATUS "[sample.export_kernel] ./poly\n${main_out}")
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "[sample.export_kernel] ./poly failed (${rv}): the kernel is not close enough to sin(x)")
endif()
poly_lines("${main_out}" exported_lines)
if(NOT exported_lines STREQUAL interp_lines)
  message(FATAL_ERROR "[sample.export_kernel] the exported kernel's results differ from the interpreter's:\n"
                      "  interpreter: ${interp_lines}\n  exported:    ${exported_lines}")
endif()
message(STATUS "[sample.export_kernel] the exported kernel, built with `c++`, prints the interpreter's ${n} results")
