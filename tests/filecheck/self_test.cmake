# kiln-filecheck must be able to fail: each *.check file here is run on
# sample.txt; holds.check must pass, every other one must fail with status 1.
file(GLOB checks "${DIR}/*.check")
foreach(check IN LISTS checks)
  get_filename_component(name "${check}" NAME_WE)
  execute_process(COMMAND "${FILECHECK}" "${check}" INPUT_FILE "${DIR}/sample.txt"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(name STREQUAL "holds")
    set(want 0)
  else()
    set(want 1)
  endif()
  if(NOT rc EQUAL want)
    message(FATAL_ERROR "${name}.check: kiln-filecheck exited ${rc}, expected ${want}\n${err}")
  endif()
  message(STATUS "${name}.check: exit ${rc} as expected")
endforeach()
