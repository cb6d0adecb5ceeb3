# kiln-fuzz --jobs runs programs side by side and must say what one job
# says, in the same order: the same verdict for every seed, the same
# failures, a minimised reproducer for each, and the same summary (with an
# injected bug, so that there are failures). The reproducers themselves and
# the times are left out: minimising has time limits.
#   cmake -DFUZZ=path/to/kiln-fuzz -P jobs_match.cmake
function(run_fuzz jobs out_var)
  execute_process(COMMAND ${FUZZ} ${ARGN} --jobs ${jobs} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  string(REGEX MATCHALL "seed [0-9]+: [a-z ]+|FAIL seed [^\n]*|minimised reproducer: seed [0-9]+, variant '[^']*', backend [a-z]+|[0-9]+ passed, [0-9]+ failed"
         lines "${out}")
  string(REPLACE ";" "\n" lines "${lines}")
  set(${out_var} "exit ${rc}\n${lines}" PARENT_SCOPE)
endfunction()
foreach(args "--seed;1;--count;40;--backends;interp;--verbose"
             "--seed;1;--count;4;--backends;interp;--verbose;--inject-bug;--keep-going;--minimize-time;120")
  run_fuzz(1 one ${args})
  run_fuzz(3 three ${args})
  message("kiln-fuzz ${args}:\n${one}")
  if(NOT one STREQUAL three)
    message(FATAL_ERROR "kiln-fuzz ${args}: --jobs 3 says\n${three}\nwhere --jobs 1 says\n${one}")
  endif()
  if(NOT one MATCHES "seed 4: ")
    message(FATAL_ERROR "kiln-fuzz ${args} did not check seed 4")
  endif()
endforeach()
