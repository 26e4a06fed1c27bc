#!/usr/bin/env bash
# Writes the README's screenshots (docs/screenshots/*.png) from the real window under Xvfb. The Sync
# screen is shown enrolled with a real outpost-hq started here on 127.0.0.1 (and stopped at the end).
set -euo pipefail
BUILD=${1:-build/release}
OUT=${2:-docs/screenshots}
CTL="$BUILD/client/outpostctl"
GUI="$BUILD/ui/outpost"
HQ="$BUILD/hq/outpost-hq"
WORK=$(mktemp -d)
HQ_PID=
cleanup() {
  if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; wait "$HQ_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export OUTPOST_PASSPHRASE=screenshot-passphrase
STORE="$WORK/store"
mkdir -p "$OUT"

"$CTL" --store "$STORE" init --unit MINUSCA-RWABATT-1 --user maj.uwase >/dev/null
"$CTL" --store "$STORE" demo-seed --count 400 --seed 2026 >/dev/null
for f in readiness training incident training-gap; do
  id=$("$CTL" --store "$STORE" record new --form "$f" --json "examples/$f.json")
  "$CTL" --store "$STORE" record finalize "$id" >/dev/null
done
echo '{"course": "psea", "kind": "refresher"}' | "$CTL" --store "$STORE" record new --form training --json - >/dev/null

cat > "$WORK/en.txt" <<SCRIPT
wait 3
type $OUTPOST_PASSPHRASE
key Enter
wait 4
screenshot home.png
click nav.records
wait 4
screenshot records.png
click nav.gaps
wait 4
click gap.MINUSCA-RWABATT-1.psea
wait 3
screenshot gaps.png
click nav.home
wait 2
click new.training
wait 3
key Tab
type psea
key Tab
type refresher
key Tab
type unit
key Tab
type 2026-11-31
key Tab
type 2026-11-01
key Tab
type 500
key Tab
type fr
key Tab
key Tab
type 95
key Tab
type 18.55
key Tab
key Tab
type 41
key Tab
type -3
key Tab
key Ctrl+Enter
wait 3
screenshot form-validation.png
SCRIPT
xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$STORE" --script "$WORK/en.txt" --screenshot-dir "$OUT"

cat > "$WORK/fr.txt" <<SCRIPT
wait 3
type $OUTPOST_PASSPHRASE
key Enter
wait 4
screenshot home-fr-night.png
click nav.home
wait 2
click new.incident
wait 3
key Tab
type RWABATT1-CD-2026-040
key Tab
type Bangui
key Tab
type 2026-11-20
key Tab
type 2026-11-18
key Tab
key Tab
key Tab
type hotline
key Tab
type serious_misconduct
key Tab
type sea
key Tab
type sea
key Tab
type Le plaignant signale que Marie Dupont a été approchée près du marché.
wait 3
screenshot form-fr-night.png
SCRIPT
xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$STORE" --lang fr --theme night --script "$WORK/fr.txt" \
  --screenshot-dir "$OUT"

# Sync with HQ: a laptop of the unit with the example reports, enrolled with a real HQ. The window
# sends them (HQ rejects the training gap, which is another unit's); then HQ accepts the training
# session and returns the incident with a comment, and the window's next sync brings the reviews.
FIELD="$WORK/field"
"$HQ" init --data "$WORK/hq" >/dev/null
"$HQ" serve --data "$WORK/hq" --listen 127.0.0.1:0 >"$WORK/hq.log" 2>&1 &
HQ_PID=$!
for _ in $(seq 300); do grep -q "listening on" "$WORK/hq.log" && break; sleep 0.1; done
HQ_URL=$(sed -n 's/.*listening on \(https:[^ ]*\) pin.*/\1/p' "$WORK/hq.log")
[ -n "$HQ_URL" ] || { echo "outpost-hq did not start:"; cat "$WORK/hq.log"; exit 1; }
"$CTL" --store "$FIELD" init --unit MINUSCA-RWABATT-1 --user maj.uwase >/dev/null
declare -A IDS
for f in readiness training incident training-gap; do
  IDS[$f]=$("$CTL" --store "$FIELD" record new --form "$f" --json "examples/$f.json")
  "$CTL" --store "$FIELD" record finalize "${IDS[$f]}" >/dev/null
done
CODE=$("$HQ" enroll --data "$WORK/hq" --unit MINUSCA-RWABATT-1 2>/dev/null | grep -o 'OP1\.[A-Za-z0-9._-]*')
"$CTL" --store "$FIELD" enroll --hq "$HQ_URL" --code "$CODE" --name rwabatt1-ops-laptop >/dev/null

cat > "$WORK/sync-send.txt" <<SCRIPT
wait 3
type $OUTPOST_PASSPHRASE
key Enter
wait 4
click nav.sync
wait-for sync.link.up-to-date 60
wait 3
screenshot sync.png
SCRIPT
xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$FIELD" --lang en --theme day \
  --script "$WORK/sync-send.txt" --screenshot-dir "$OUT"

"$HQ" reports review --data "$WORK/hq" "${IDS[training]}" --revision 1 --status accepted \
  --comment "Counted for the November training return." --by maj.diallo >/dev/null
"$HQ" reports review --data "$WORK/hq" "${IDS[incident]}" --revision 1 --status returned \
  --comment "The referral to the contingent commander has no date. Please amend and add it." \
  --by "col.mbeki (Conduct and Discipline)" >/dev/null
# Newest first in the list: the training gap, then the incident.
cat > "$WORK/sync-review.txt" <<SCRIPT
wait 3
type $OUTPOST_PASSPHRASE
key Enter
wait 4
click nav.sync
wait-for sync.link.up-to-date 60
click nav.records
wait 3
click records.row1
key Enter
wait 3
wait-for record.amend_returned 10
screenshot record-returned.png
SCRIPT
xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$FIELD" --lang en --theme day \
  --script "$WORK/sync-review.txt" --screenshot-dir "$OUT"
cat > "$WORK/sync-fr.txt" <<SCRIPT
wait 3
type $OUTPOST_PASSPHRASE
key Enter
wait 4
click nav.sync
wait-for sync.link.up-to-date 60
wait 3
screenshot sync-fr-night.png
SCRIPT
xvfb-run -a -s "-screen 0 1366x768x24" "$GUI" --store "$FIELD" --lang fr --theme night \
  --script "$WORK/sync-fr.txt" --screenshot-dir "$OUT"
ls -1 "$OUT"
