# Runs kiln-fuzz with a deliberately injected miscompilation. It must exit
# non-zero and print a minimised reproducer; if it does not, the tester has
# stopped detecting bugs.
#   cmake -DFUZZ=path/to/kiln-fuzz -P expect_failure.cmake
execute_process(
  COMMAND ${FUZZ} --seed 1 --count 5 --backends interp --inject-bug --minimize-time 30
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "kiln-fuzz --inject-bug exited 0: the injected miscompilation went undetected")
endif()
foreach(expected "FAIL seed [0-9]+: " "minimised reproducer: seed [0-9]+"
                 "---- reduced unoptimised module ----\nfunc @fuzz" "---- on the reduced module: ")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "kiln-fuzz --inject-bug output lacks '${expected}'")
  endif()
endforeach()
