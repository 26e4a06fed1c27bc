#!/usr/bin/env bash
# make demo: a local HQ, and a walk through the field store with the demo mission's data: records,
# sync to HQ, HQ's review coming back to the unit, then the field client.
set -euo pipefail
BUILD=${1:-build/release}
CTL="$BUILD/client/outpostctl"
HQ="$BUILD/hq/outpost-hq"
STORE=${OUTPOST_DEMO_STORE:-$PWD/.demo/store}
HQDATA=${OUTPOST_DEMO_HQ:-$PWD/.demo/hq}
HQPORT=${OUTPOST_DEMO_HQ_PORT:-8443}
export OUTPOST_PASSPHRASE=${OUTPOST_PASSPHRASE:-demo-passphrase-2026}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ outpostctl %s\n' "$*"; "$CTL" --store "$STORE" "$@"; }

rm -rf "$STORE" "$HQDATA"
mkdir -p "$(dirname "$STORE")"

step "A local HQ on https://127.0.0.1:$HQPORT (its log is .demo/hq.log)"
"$HQ" init --data "$HQDATA"
export OUTPOST_CONDUCT_PASSPHRASE=${OUTPOST_CONDUCT_PASSPHRASE:-demo-conduct-2026}
step "HQ's conduct-and-discipline officer gets a key: laptops seal SEA sections to it (file .demo/cdt.key)"
rm -f "$PWD/.demo/cdt.key"
"$HQ" conduct-key add --data "$HQDATA" --name "Conduct and Discipline Team (demo)" --out "$PWD/.demo/cdt.key"
"$HQ" serve --data "$HQDATA" --listen "127.0.0.1:$HQPORT" > "$PWD/.demo/hq.log" 2>&1 &
HQPID=$!
trap 'kill $HQPID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q "listening on" "$PWD/.demo/hq.log" && break; sleep 0.1; done
cat "$PWD/.demo/hq.log"

step "A new encrypted store for the Rwandan battalion in MINUSCA (passphrase from OUTPOST_PASSPHRASE)"
run init --unit MINUSCA-RWABATT-1 --user maj.uwase
run forms list

step "A training session: draft, then finalize (it is queued for HQ in the same transaction)"
id=$(run record new --form training --json examples/training.json | tail -n 1)
run record finalize "$id"

step "A readiness report and a conduct incident (the incident goes first in the outbox)"
rid=$(run record new --form readiness --json examples/readiness.json | tail -n 1)
run record finalize "$rid"
iid=$(run record new --form incident --json examples/incident.json | tail -n 1)
run record finalize "$iid"
run outbox

step "An SEA allegation: at finalize its confidential section leaves the record, sealed for HQ's conduct team"
sid=$(run record new --form incident --json examples/incident-sea.json | tail -n 1)
run record finalize "$sid"
run record show "$sid" | tail -n 3

step "Bad input is refused with every problem named, and nothing is stored"
echo '{"course": 42, "attendees_men": -3, "colour": "red"}' > "$STORE/../bad.json"
run record new --form training --json "$STORE/../bad.json" || echo "(exit code $?)"

step "An incomplete draft cannot be finalized"
did=$(echo '{}' | "$CTL" --store "$STORE" record new --form training-gap --json - | tail -n 1)
run record finalize "$did" || echo "(exit code $?)"

step "Amend: a correction is a new revision; the first stays as it was"
run record amend "$id"
run record finalize "$id"
run record show "$id"

if "$CTL" --help | grep -q demo-seed; then
  step "200 more demo records of the battalion"
  run demo-seed --count 200 --unit MINUSCA-RWABATT-1
fi

step "Enroll this laptop with HQ: a one-time code that also pins HQ's TLS key"
code=$("$HQ" enroll --data "$HQDATA" --unit MINUSCA-RWABATT-1 | grep -o 'OP1\.[^ ]*' | head -n 1)
echo "enrollment code: $code"
run enroll --hq "https://127.0.0.1:$HQPORT" --code "$code" --name "demo-laptop"

step "Sync: the outbox goes to HQ (incidents first); HQ signs a receipt for each report"
run sync
run outbox

step "At HQ: what arrived, and a report returned to the unit with a comment"
"$HQ" reports list --data "$HQDATA" > "$PWD/.demo/hq-reports.txt"
head -n 8 "$PWD/.demo/hq-reports.txt"
echo "... ($(wc -l < "$PWD/.demo/hq-reports.txt") lines in .demo/hq-reports.txt)"
"$HQ" reports review "$rid" --revision 1 --status returned --by "hq.ops" \
  --comment "Please add the generator spare-parts request to the improvement items." --data "$HQDATA"

step "At HQ the SEA section opens only with the conduct officer's key file and passphrase (and that is audited)"
"$HQ" reports show "$sid" --data "$HQDATA" | sed -n '/"sealed"/,$p'
"$HQ" reports show "$sid" --data "$HQDATA" --open-sealed --key "$PWD/.demo/cdt.key" > "$PWD/.demo/sealed-opened.json"
sed -n '/"sealed"/,$p' "$PWD/.demo/sealed-opened.json"
grep -q '"victim_reference"' "$PWD/.demo/sealed-opened.json" ||
  { echo "demo: the sealed section did not open at HQ" >&2; exit 1; }
run record show "$sid" | tail -n 2

step "The next sync brings HQ's feedback back to the laptop"
run sync
run feedback

step "Search (accents and case ignored), training gaps, readiness"
run search "induction"
run gaps --unit MINUSCA-RWABATT-1
run readiness --unit MINUSCA-RWABATT-1

step "Export (the SEA section is never exported), integrity check, backup"
run export --form training --format csv --out "$STORE/../training.csv"
head -n 4 "$STORE/../training.csv"
echo "... (the whole export is in .demo/training.csv)"
run verify
run backup

GUI="$BUILD/ui/outpost"
# OUTPOST_DEMO_HEADLESS=1 (CI sets it): the window opens under Xvfb, draws a few frames and closes.
if [ -z "${OUTPOST_DEMO_HEADLESS:-}" ] && [ -n "${DISPLAY:-}" ] && [ -x "$GUI" ]; then
  step "The field client: unlock with the passphrase $OUTPOST_PASSPHRASE"
  "$GUI" --store "$STORE"  # syncs with the demo HQ in the background while it runs
elif [ -x "$GUI" ]; then
  step "No display here: the field client ran under Xvfb and took a picture of its home screen"
  unset_pass=$OUTPOST_PASSPHRASE
  rm -f "$PWD/.demo/home.png"
  OUTPOST_PASSPHRASE=$unset_pass xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$STORE" --unlock-from-env \
    --frames 10 --screenshot "$PWD/.demo/home.png"
  [ -s "$PWD/.demo/home.png" ] || { echo "demo: the field client drew no home screen (.demo/home.png)" >&2; exit 1; }
  echo "See .demo/home.png. With a display, run: $GUI --store $STORE  (passphrase: $OUTPOST_PASSPHRASE)"
fi

step "Done. The store is in $STORE; try: $CTL --store $STORE record list"
echo "HQ ($HQ --data $HQDATA) stops with this script; start it again with:"
echo "  $HQ serve --data $HQDATA --listen 127.0.0.1:$HQPORT"
