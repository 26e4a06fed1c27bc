# The test of check.cmake and discover.cmake, on the probe suite (names_test.cpp) in a scratch folder:
#  1. Catch2 answers a spec that matches no test case with exit 0, and with 2 under --warn NoTests;
#  2. the probe registered by discover.cmake passes the check;
#  3. the probe registered by Catch2's own CatchAddTests.cmake (what Outpost used before) fails it, naming
#     the test case whose name holds a ';';
#  4. a test whose spec matches nothing, and one run without --warn NoTests, fail it.
#
# Usage: cmake -DPROBE=<probe program> -DCTEST_COMMAND=<ctest> -DSCRATCH=<folder>
#              [-DCATCH_ADD_TESTS=<Catch2's CatchAddTests.cmake>] -P check_test.cmake
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/names.cmake)
foreach(var PROBE CTEST_COMMAND SCRATCH)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_test.cmake: pass -D${var}=...")
  endif()
endforeach()
set(prefix "probe:")
file(REMOVE_RECURSE "${SCRATCH}")
file(MAKE_DIRECTORY "${SCRATCH}")
outpost_bracket("${PROBE}" probe_arg)
file(WRITE "${SCRATCH}/suites.cmake" "outpost_suite([=[${prefix}]=] ${probe_arg})\n")

# Runs check.cmake on the CTest tests that the script tests_file registers; sets rc and out.
function(run_check case tests_file)
  set(dir "${SCRATCH}/${case}")
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/CTestTestfile.cmake" "include([==[${tests_file}]==])\n")
  execute_process(COMMAND "${CTEST_COMMAND}" --show-only=json-v1 WORKING_DIRECTORY "${dir}"
    OUTPUT_FILE "${dir}/tests.json" RESULT_VARIABLE ctest_rc)
  if(NOT ctest_rc EQUAL 0)
    message(FATAL_ERROR "${case}: ctest --show-only=json-v1 failed (${ctest_rc})")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -DSUITES_FILE=${SCRATCH}/suites.cmake
    -DCTEST_JSON=${dir}/tests.json -P ${CMAKE_CURRENT_LIST_DIR}/check.cmake
    OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
  set(rc "${r}" PARENT_SCOPE)
  set(out "${o}${e}" PARENT_SCOPE)
endfunction()

function(expect_failure case needle)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${case}: the check passed; it must fail:\n${out}")
  endif()
  string(FIND "${out}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${case}: the check failed without saying: ${needle}\n${out}")
  endif()
  message(STATUS "${case}: fails as it must")
endfunction()

# 1. What Catch2 2.x does with a spec that matches nothing.
execute_process(COMMAND "${PROBE}" "no such test case" OUTPUT_QUIET ERROR_QUIET RESULT_VARIABLE bare)
execute_process(COMMAND "${PROBE}" "no such test case" --warn NoTests OUTPUT_QUIET ERROR_QUIET
  RESULT_VARIABLE warned)
if(warned EQUAL 0)
  message(FATAL_ERROR "a spec that matches nothing passes even with --warn NoTests")
endif()
message(STATUS "a spec that matches nothing: exit ${bare} without --warn NoTests, ${warned} with it")

# 2. discover.cmake's registration passes.
execute_process(COMMAND "${CMAKE_COMMAND}" -DEXECUTABLE=${PROBE} "-DPREFIX=${prefix}"
  -DOUTPUT=${SCRATCH}/ours_tests.cmake -DWORKING_DIRECTORY=${SCRATCH}
  -P ${CMAKE_CURRENT_LIST_DIR}/discover.cmake RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "discover.cmake failed on the probe (${r})")
endif()
run_check(ours "${SCRATCH}/ours_tests.cmake")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the probe registered by discover.cmake fails the check:\n${out}")
endif()
message(STATUS "discover.cmake: passes")

# 3. Catch2's own registration splits "a name with a semicolon; it is one test case" in two.
if(CATCH_ADD_TESTS AND EXISTS "${CATCH_ADD_TESTS}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -DTEST_TARGET=probe -DTEST_EXECUTABLE=${PROBE}
    -DTEST_WORKING_DIR=${SCRATCH} "-DTEST_PREFIX=${prefix}" -DCTEST_FILE=${SCRATCH}/catch_tests.cmake
    -DTEST_LIST=probe_TESTS -P ${CATCH_ADD_TESTS} OUTPUT_QUIET ERROR_QUIET RESULT_VARIABLE r)
  if(NOT r EQUAL 0)
    message(FATAL_ERROR "CatchAddTests.cmake failed on the probe (${r})")
  endif()
  run_check(catch "${SCRATCH}/catch_tests.cmake")
  expect_failure("Catch2's CatchAddTests.cmake"
    "test case \"a name with a semicolon; it is one test case\" of ${PROBE} has no CTest test")
  expect_failure("Catch2's CatchAddTests.cmake" "CTest test \"probe: it is one test case\" is no test case")
else()
  message(STATUS "Catch2's CatchAddTests.cmake not found: that comparison is left out")
endif()

# 4. One test with a spec that selects nothing, one without --warn NoTests (the rest registered right).
file(READ "${SCRATCH}/ours_tests.cmake" ours)
outpost_bracket("a plain name" plain)
outpost_bracket("a plain nam" cut)
outpost_bracket("a name with two;semicolons;and no spaces" semicolons)
string(REPLACE "${plain} --warn NoTests" "${cut} --warn NoTests" broken "${ours}")
string(REPLACE "${semicolons} --warn NoTests" "${semicolons}" broken "${broken}")
if(broken STREQUAL ours)
  message(FATAL_ERROR "check_test.cmake: the registration to break was not found in:\n${ours}")
endif()
file(WRITE "${SCRATCH}/broken_tests.cmake" "${broken}")
run_check(broken "${SCRATCH}/broken_tests.cmake")
expect_failure("a spec that matches nothing"
  "CTest test \"probe:a plain name\" passes the spec \"a plain nam\", which selects []")
expect_failure("a test without --warn NoTests"
  "CTest test \"probe:a name with two;semicolons;and no spaces\" does not run \"<spec> --warn NoTests\"")
