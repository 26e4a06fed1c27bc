# The build refuses a header from a room a target may not use: builds the control probe (must compile)
# and the wrong probe (must fail, and fail on that header).
#   cmake -DBUILD_DIR=... -P probe.cmake
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target outpost-arrow-probe-control
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the control probe (client/app.hpp from the field client) did not compile:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target outpost-arrow-probe-wrong
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "the field client compiled against hq/service.hpp: the rooms' include folders leak")
endif()
if(NOT out MATCHES "hq/service\\.hpp: No such file")
  message(FATAL_ERROR "the wrong probe failed, but not on hq/service.hpp:\n${out}")
endif()
message(STATUS "the field client cannot include hq/service.hpp; the control compiles")
