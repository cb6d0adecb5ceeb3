# Compiles and runs kiln's exported source without kiln; run by CTest as
#   cmake -DNAME=gcc|clang|gcc_standard_headers -DCXX=... -DCC=... -DCXX_FLAGS="..." -DOUT_DIR=...
#         -DDRIVER=.../driver.cpp -DINPUTS_DIR=... -DWORK_DIR=... -P check_export.cmake
# (see tests/export/CMakeLists.txt). OUT_DIR holds what kiln_export_programs
# wrote: <name>.cpp, <name>.h per program, programs.txt, expected.h.
#
#   1. every <name>.cpp compiles alone with CXX and CXX_FLAGS (-Werror);
#   2. <name>.h and <name>.cpp agree (one translation unit with both);
#   3. every header compiles as C11 with CC (-Wall -Wextra -Werror);
#   4. driver.cpp, compiled with CXX and CXX_FLAGS and linked with the
#      objects of 1, runs and finds the interpreter's results.
# Each of 1-3 checks every file before failing, so one run shows every
# broken file.
cmake_minimum_required(VERSION 3.25)

foreach(var NAME CXX_FLAGS OUT_DIR DRIVER INPUTS_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_export.cmake: -D${var}=... is required")
  endif()
endforeach()

if(NAME STREQUAL "clang")
  set(cxx_name clang++)
  set(cc_name clang)
  set(install_hint "Install clang (apt-get install clang; kiln's scripts/common.sh does) and reconfigure this build")
else()
  set(cxx_name g++)
  set(cc_name gcc)
  set(install_hint "Install g++ and gcc (apt-get install g++ gcc) and reconfigure this build")
endif()
foreach(tool CXX CC)
  if("${${tool}}" STREQUAL "" OR "${${tool}}" MATCHES "NOTFOUND$")
    if(tool STREQUAL "CXX")
      set(missing ${cxx_name})
    else()
      set(missing ${cc_name})
    endif()
    message(FATAL_ERROR "[export.${NAME}] ${missing} not found: CMake did not find ${missing} on PATH when it "
                        "configured this build, so the exported code cannot be checked with it. ${install_hint}.")
  endif()
endforeach()
if(NOT EXISTS "${OUT_DIR}/programs.txt")
  message(FATAL_ERROR "[export.${NAME}] ${OUT_DIR}/programs.txt is missing: export.generate (kiln_export_programs) did not run")
endif()

separate_arguments(flags UNIX_COMMAND "${CXX_FLAGS}")
file(STRINGS "${OUT_DIR}/programs.txt" programs)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command in WORK_DIR; on failure prints it with its output and
# appends `what` to the list `failed`.
macro(kiln_try what)
  string(REPLACE ";" " " shown "${ARGN}")
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rv OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rv EQUAL 0)
    message("[export.${NAME}] FAILED ${what}\n  ${shown}\n${out}")
    list(APPEND failed "${what}")
  endif()
endmacro()
macro(kiln_stop_on_failures step)
  if(failed)
    list(LENGTH failed n)
    string(REPLACE ";" "\n  " listed "${failed}")
    message(FATAL_ERROR "[export.${NAME}] ${step}: ${n} failed:\n  ${listed}")
  endif()
endmacro()

# 1. Each exported file alone.
set(failed "")
set(objects "")
foreach(p ${programs})
  kiln_try("${p}.cpp: compile alone" "${CXX}" ${flags} -c "${OUT_DIR}/${p}.cpp" -o "${WORK_DIR}/${p}.o")
  list(APPEND objects "${WORK_DIR}/${p}.o")
endforeach()
kiln_stop_on_failures("exported sources compile with ${CXX} ${CXX_FLAGS}")
message(STATUS "[export.${NAME}] every exported .cpp compiles alone: ${CXX} ${CXX_FLAGS} -c")

# 2. The header declares what the source defines (a C-linkage function
# declared twice with different types does not compile).
foreach(p ${programs})
  file(WRITE "${WORK_DIR}/agree_${p}.cpp" "#include \"${p}.h\"\n#include \"${p}.cpp\"\n")
  kiln_try("${p}.h agrees with ${p}.cpp" "${CXX}" ${flags} -fsyntax-only -I "${OUT_DIR}" "${WORK_DIR}/agree_${p}.cpp")
endforeach()
kiln_stop_on_failures("headers and sources agree")

# 3. The headers are C.
set(c_flags -std=c11 -Wall -Wextra -Werror -fsyntax-only)
string(REPLACE ";" " " c_flags_shown "${c_flags}")
set(c_text "/* Every exported header, from C. */\n")
foreach(p ${programs})
  string(APPEND c_text "#include \"${p}.h\"\n")
  file(WRITE "${WORK_DIR}/c_${p}.c" "#include \"${p}.h\"\n#include \"${p}.h\" /* twice: #pragma once */\n")
  kiln_try("${p}.h compiles as C" "${CC}" ${c_flags} -I "${OUT_DIR}" "${WORK_DIR}/c_${p}.c")
endforeach()
file(WRITE "${WORK_DIR}/c_all.c" "${c_text}int main(void) { return 0; }\n")
kiln_try("all headers in one C file" "${CC}" ${c_flags} -I "${OUT_DIR}" "${WORK_DIR}/c_all.c")
kiln_stop_on_failures("headers compile as C with ${CC} ${c_flags_shown}")
message(STATUS "[export.${NAME}] every header compiles as C: ${CC} ${c_flags_shown}")

# 4. The driver.
kiln_try("driver.cpp: compile" "${CXX}" ${flags} -I "${OUT_DIR}" -I "${INPUTS_DIR}" -c "${DRIVER}" -o "${WORK_DIR}/driver.o")
kiln_stop_on_failures("the driver compiles")
kiln_try("link" "${CXX}" "${WORK_DIR}/driver.o" ${objects} -o "${WORK_DIR}/driver")
kiln_stop_on_failures("the driver links with the exported objects")
execute_process(COMMAND "${WORK_DIR}/driver" WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rv)
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "[export.${NAME}] the driver found results that differ from kiln's interpreter (exit ${rv})")
endif()
message(STATUS "[export.${NAME}] exported code built with ${CXX} gives the interpreter's results")
