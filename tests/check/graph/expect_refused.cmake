# ctest check/graph-refuses: configures the fixture project beside this
# file and passes only if the graph check refuses it with its message.
#   cmake -DPX_MODULES=.../cmake/PxModules.cmake -DBIN=DIR -P expect_refused.cmake
file(REMOVE_RECURSE ${BIN})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${BIN} -DPX_MODULES=${PX_MODULES}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(want "pdnsx-two links pdnsx_one: program libraries are their program's own")
string(FIND "${out}${err}" "${want}" at)
if(rc EQUAL 0 OR at EQUAL -1)
  message(FATAL_ERROR "the graph check did not refuse the fixture (exit ${rc}):\n${out}${err}")
endif()
message(STATUS "refused as it must be: ${want}")
