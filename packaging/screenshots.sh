#!/usr/bin/env bash
# Writes the README's screenshots (docs/screenshots/*.png) from the real window under Xvfb.
set -euo pipefail
BUILD=${1:-build/release}
OUT=${2:-docs/screenshots}
CTL="$BUILD/client/outpostctl"
GUI="$BUILD/ui/outpost"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
ls -1 "$OUT"
