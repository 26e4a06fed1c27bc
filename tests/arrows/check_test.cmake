# The arrow check's own test: on a copy of the rooms with a deliberately wrong include (the field client's
# App including HQ's service, core including storage) and a [SECTION] index that no longer matches its
# file, the check fails and names each; on the copy before the changes it passes.
#   cmake -DSOURCE_DIR=... -DSCRATCH=... -P check_test.cmake
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH}/.ci)
foreach(room core storage sync client hq ui cli demo testbed)
  if(EXISTS ${SOURCE_DIR}/${room})
    file(COPY ${SOURCE_DIR}/${room} DESTINATION ${SCRATCH} FILES_MATCHING PATTERN "*.cpp" PATTERN "*.hpp")
  endif()
endforeach()
set(check ${SOURCE_DIR}/.ci/check-arrows)

execute_process(COMMAND bash ${check} ${SCRATCH} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the check fails on an unchanged copy of the rooms:\n${out}")
endif()

file(APPEND ${SCRATCH}/client/app.cpp "#include \"hq/service.hpp\"\n")
file(APPEND ${SCRATCH}/core/time.cpp "#include \"storage/store.hpp\"\n")
file(APPEND ${SCRATCH}/storage/store.cpp "// [SECTION] a section the index does not name\n")

execute_process(COMMAND bash ${check} ${SCRATCH} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "the check passed a wrong include and a stale [SECTION] index:\n${out}")
endif()
foreach(expected
    "client/app.cpp:[0-9]+ includes \"hq/service.hpp\": client may not include hq"
    "core/time.cpp:[0-9]+ includes \"storage/store.hpp\": core may not include storage"
    "storage/store.cpp: the \\[SECTION\\] index does not match")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "the check did not report /${expected}/:\n${out}")
  endif()
endforeach()
message(STATUS "the check names the wrong includes and the stale index")
