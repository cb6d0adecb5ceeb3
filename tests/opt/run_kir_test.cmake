# One kiln-opt file test: runs each "// RUN" line of TEST_FILE through
# kiln-opt and checks the output against the file's check lines with
# kiln-filecheck.
#   // RUN: ARGS             kiln-opt TEST_FILE ARGS must succeed; its stdout
#                            is checked against the CHECK lines
#   // RUN(P): ARGS          the same, against the P lines (P: ..., P-NEXT: ...)
#   // RUN-FAILS(P): ARGS    kiln-opt must fail with status 1 (a user error,
#                            not an internal one); its stderr is checked
# Variables: KILN_OPT, FILECHECK, TEST_FILE, WORK_DIR.
file(STRINGS "${TEST_FILE}" run_lines REGEX "^// RUN")
if(NOT run_lines)
  message(FATAL_ERROR "${TEST_FILE}: no '// RUN' line")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")
set(n 0)
foreach(line IN LISTS run_lines)
  if(NOT line MATCHES "^// RUN(-FAILS)?(\\(([A-Z][A-Z0-9_-]*)\\))?:(.*)$")
    message(FATAL_ERROR "${TEST_FILE}: cannot read the run line '${line}'")
  endif()
  set(fails "${CMAKE_MATCH_1}")
  set(prefix "${CMAKE_MATCH_3}")
  if(NOT prefix)
    set(prefix CHECK)
  endif()
  separate_arguments(args UNIX_COMMAND "${CMAKE_MATCH_4}")
  execute_process(COMMAND "${KILN_OPT}" "${TEST_FILE}" ${args}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(fails)
    if(NOT rc EQUAL 1)
      message(FATAL_ERROR "kiln-opt ${args} should fail with status 1, got '${rc}'\nstdout:\n${out}\nstderr:\n${err}")
    endif()
    set(checked "${err}")
  else()
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "kiln-opt ${args} failed (${rc}):\n${err}")
    endif()
    set(checked "${out}")
  endif()
  math(EXPR n "${n} + 1")
  set(text_file "${WORK_DIR}/run${n}.txt")
  file(WRITE "${text_file}" "${checked}")
  execute_process(COMMAND "${FILECHECK}" "${TEST_FILE}" "--prefix=${prefix}"
    INPUT_FILE "${text_file}" RESULT_VARIABLE check_rc ERROR_VARIABLE check_err)
  if(NOT check_rc EQUAL 0)
    message(FATAL_ERROR "kiln-opt ${args}: the ${prefix} lines do not hold\n${check_err}")
  endif()
  message(STATUS "RUN${fails}(${prefix}): kiln-opt ${args}: ok")
endforeach()
