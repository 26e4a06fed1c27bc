#!/usr/bin/env bash
# The long fuzz run (make fuzz-long): each target in turn for FUZZ_SECONDS (or the seconds given as
# <target>:<seconds>) with FUZZ_JOBS workers, over
# a corpus kept in <build>/long/<target> (seeded from tests/fuzz/corpus/<target>, never written back).
# Findings land in <build>/long/artifacts/<target>/; the executions per target in <build>/long/stats.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
shift
SRC="$(cd "$(dirname "$0")" && pwd)"
SECONDS_EACH="${FUZZ_SECONDS:-3600}"
JOBS="${FUZZ_JOBS:-1}"
OUT="$BUILD/long"
mkdir -p "$OUT"
: >"$OUT/stats"
total=0
for arg in "$@"; do
  t="${arg%%:*}"
  secs="$SECONDS_EACH"
  if [ "$arg" != "$t" ]; then secs="${arg#*:}"; fi
  mkdir -p "$OUT/$t" "$OUT/artifacts/$t" "$OUT/logs/$t"
  cp -n "$SRC/corpus/$t"/* "$OUT/$t/" 2>/dev/null || true
  dict=()
  if [ -f "$SRC/dict/$t.dict" ]; then dict=(-dict="$SRC/dict/$t.dict"); fi
  echo "fuzz-long: $t for ${secs}s with $JOBS job(s)"
  rc=0
  # -fork keeps going after a finding (each is written to the artifacts folder); one worker per job.
  (cd "$OUT/logs/$t" && "$BUILD/tests/fuzz/fuzz_$t" -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" "${dict[@]}" "$OUT/$t" \
    >"$OUT/logs/$t/fuzz.log" 2>&1) || rc=$?
  # A single process prints stat::number_of_executed_units; -fork's parent prints "#<executions>: cov: ...".
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/logs/$t/fuzz.log" | grep -o '[0-9]*$' |
    tail -n1 || true)
  if [ -z "$execs" ]; then
    execs=$(grep -o '^#[0-9]*' "$OUT/logs/$t/fuzz.log" | tail -n1 | tr -d '#' || true)
  fi
  execs=${execs:-0}
  total=$((total + execs))
  found=$(ls "$OUT/artifacts/$t" | wc -l)
  echo "$t seconds=$secs executions=$execs findings=$found exit=$rc" | tee -a "$OUT/stats"
done
echo "total executions=$total" | tee -a "$OUT/stats"
