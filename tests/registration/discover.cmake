# Registers a Catch2 suite's test cases with CTest, one CTest test per test case. Run after each link
# of the suite (outpost_test_suite in tests/CMakeLists.txt), it writes the CTest script OUTPUT.
#
# Catch2's own CatchAddTests.cmake reads the names through a CMake list, so a name holding ';' became two
# CTest tests that matched no test case, and Catch answers a test spec that matches nothing with
# "No tests ran" and exit code 0: the test case never ran and CTest said Passed. Here:
#  - names are read line by line and written as bracket arguments, never through a list;
#  - every test runs with --warn NoTests, so a spec that matches no test case exits 2 (a failure);
#  - a suite that lists no test case, or that cannot be run, fails the build;
#  - exit code 77 is CTest's Skipped: a check skipped on purpose (tests/support/skip_policy.hpp).
# tests/registration/check.cmake then holds CTest's list of tests to Catch's, spec by spec.
#
# Usage: cmake -DEXECUTABLE=<suite> -DPREFIX=<"core:"> -DOUTPUT=<file> -DWORKING_DIRECTORY=<dir>
#              [-DENVIRONMENT=<NAME=value>] -P discover.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var EXECUTABLE OUTPUT WORKING_DIRECTORY)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "discover.cmake: pass -D${var}=...")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/names.cmake)

execute_process(COMMAND "${EXECUTABLE}" --list-test-names-only
  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE rc
  WORKING_DIRECTORY "${WORKING_DIRECTORY}")
# Catch exits with the number of test cases listed (at most 255); anything else is a crash or a bad start.
if(NOT rc MATCHES "^[0-9]+$" OR rc EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} --list-test-names-only failed (${rc}), or listed no test case:\n"
    "${errors}${listing}")
endif()

set(script "# Made by tests/registration/discover.cmake from ${EXECUTABLE} --list-test-names-only.\n")
set(count 0)
outpost_next_line(listing name more)
while(more)
  if(NOT name STREQUAL "")
    outpost_catch_spec("${name}" spec)
    outpost_bracket("${PREFIX}${name}" test_arg)
    outpost_bracket("${spec}" spec_arg)
    outpost_bracket("${EXECUTABLE}" exe_arg)
    outpost_bracket("${WORKING_DIRECTORY}" dir_arg)
    string(APPEND script "add_test(${test_arg} ${exe_arg} ${spec_arg} --warn NoTests)\n"
      "set_tests_properties(${test_arg} PROPERTIES WORKING_DIRECTORY ${dir_arg} SKIP_RETURN_CODE 77")
    if(ENVIRONMENT)
      outpost_bracket("${ENVIRONMENT}" env_arg)
      string(APPEND script " ENVIRONMENT ${env_arg}")
    endif()
    string(APPEND script ")\n")
    math(EXPR count "${count} + 1")
  endif()
  outpost_next_line(listing name more)
endwhile()
file(WRITE "${OUTPUT}" "${script}")
