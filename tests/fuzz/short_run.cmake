# One short libFuzzer run for CTest: a scratch copy of the seed corpus (the repository's stays as it is),
# a time budget, a per-input timeout and a memory cap. A finding fails the test and names the reproducer.
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH}/corpus ${SCRATCH}/artifacts)
file(GLOB seeds ${CORPUS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${SCRATCH}/corpus)
endif()
set(args -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
  -artifact_prefix=${SCRATCH}/artifacts/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${args} ${SCRATCH}/corpus RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${SCRATCH}/artifacts/*)
  message(FATAL_ERROR "${FUZZER} found a problem (exit ${rc}); reproduce with: ${FUZZER} ${found}")
endif()
