#!/usr/bin/env bash
# demo.sh: the demonstration. A fresh CA, a hub and three agents on loopback (two PCs of one school, one
# PC of the ward office); records made while the hub is down; a sync; a concurrent edit that becomes a
# conflict; the merged state printed. Everything runs in a temporary directory (kept, and printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KIROKU_BUILD:-build}
HUB="$PWD/$BIN/hub/kiroku-hub"
AGENT="$PWD/$BIN/agent/kiroku-agent"
[ -x "$HUB" ] && [ -x "$AGENT" ] || { echo "demo: build first (scripts/build.sh)" >&2; exit 1; }
DIR=${KIROKU_DEMO_DIR:-$(mktemp -d /tmp/kiroku-demo-XXXXXX)}
mkdir -p "$DIR"
cd "$DIR"
export KIROKU_CONFIG=/nonexistent-use-defaults
unset KIROKU_CONFIG
HUB_PID=""
cleanup() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null || true; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. The hub at city hall: a store, a certificate authority, certificates for three PCs"
run "$HUB" init --data-dir hub
run "$HUB" ca init --data-dir hub
for n in hikarigaoka-es-pc1:hikarigaoka-es hikarigaoka-es-pc2:hikarigaoka-es kuyakusho-pc1:nerima-kuyakusho; do
  node=${n%%:*} fac=${n##*:}
  "$HUB" cert issue --data-dir hub --for-node "$node" --facility "$fac" certs >/dev/null
  "$AGENT" init --data-dir "$node" --node "$node" --facility "$fac"
  cp "certs/$node.crt" "$node/agent.crt"; cp "certs/$node.key" "$node/agent.key"; cp hub/ca.crt "$node/hub-ca.crt"
done

step "2. Records made at the facilities while the hub is down"
A1=(--data-dir hikarigaoka-es-pc1) A2=(--data-dir hikarigaoka-es-pc2) B1=(--data-dir kuyakusho-pc1)
ID=$("$AGENT" record "${A1[@]}" incident --set category=紛失 --set media=USB --set occurred_at=2026-11-20T15:10 \
      --set description="校外学習の引率中に児童名簿を含むUSBメモリを紛失" --set personal_info=yes --set persons_affected=32)
echo "hikarigaoka-es-pc1 recorded incident $ID"
"$AGENT" record "${A1[@]}" pi_handling --set action=持出し --set medium="成績処理用USBメモリ" --set handled_by="山田 花子" \
  --set handled_at=2026-11-20T08:30 >/dev/null
"$AGENT" record "${B1[@]}" incident --set category=誤送付・誤送信 --set media=電子メール --set occurred_at=2026-11-21T10:05 \
  --set description="区民への通知メールを誤った宛先に送信" --set personal_info=yes --set persons_affected=1 >/dev/null
printf '$ kiroku-agent sync   (the hub is not running yet)\n'
"$AGENT" sync "${A1[@]}" --hub-url https://127.0.0.1:9 && exit 1 || echo "(exit $?: nothing lost; the outbox keeps the changes)"
run "$AGENT" status "${A1[@]}"

step "3. The hub comes up; every agent syncs"
"$HUB" serve --data-dir hub --listen 127.0.0.1:0 >hub.out 2>hub.log &
HUB_PID=$!
for _ in $(seq 50); do grep -q listening hub.out 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' hub.out)
URL=https://127.0.0.1:$PORT
echo "hub listening on $URL (mutual TLS, TLS 1.2, ECDHE-ECDSA-AES-GCM)"
for a in hikarigaoka-es-pc1 hikarigaoka-es-pc2 kuyakusho-pc1; do run "$AGENT" sync --data-dir "$a" --hub-url "$URL"; done
echo "hikarigaoka-es-pc2 now holds the records of its school (and nothing of the ward office):"
"$AGENT" list "${A2[@]}"

step "4. Both school PCs edit the same field while offline: a conflict"
"$AGENT" edit "${A1[@]}" "$ID" --set description="USBメモリを紛失。校内と移動経路を捜索中"
"$AGENT" edit "${A2[@]}" "$ID" --set description="USBメモリを紛失。翌朝、バスの座席で発見"
for a in hikarigaoka-es-pc1 hikarigaoka-es-pc2 hikarigaoka-es-pc1; do "$AGENT" sync --data-dir "$a" --hub-url "$URL"; done
run "$HUB" conflicts --data-dir hub

step "5. The merged state: the hub and both school PCs hold the same winner"
run "$AGENT" show "${A1[@]}" "$ID"
for a in hikarigaoka-es-pc1 hikarigaoka-es-pc2; do
  if [ "$("$AGENT" dump --data-dir "$a")" = "$("$HUB" dump --data-dir hub --facility hikarigaoka-es)" ]; then
    echo "$a: identical to the hub's records of hikarigaoka-es"
  else
    echo "$a: DIFFERS from the hub" >&2; exit 1
  fi
done
run "$HUB" list --data-dir hub

step "6. The operator at city hall triages the incident and resolves the conflict; the school receives both"
run "$HUB" triage --data-dir hub "$ID" --status triaged --severity high --ppc yes
CONFLICT=$("$HUB" conflicts --data-dir hub --format tsv | cut -f1 | head -n 1)
run "$HUB" conflicts resolve --data-dir hub "$CONFLICT" --keep current
"$AGENT" sync "${A2[@]}" --hub-url "$URL"
run "$AGENT" show "${A2[@]}" "$ID"

step "7. The consolidated review material for the CISO (a year of records at 12 more facilities)"
"$HUB" demo-data --data-dir hub --facilities 12 --year 2026 >/dev/null
PDF=()
[ -x /usr/bin/chromium ] && PDF=(--pdf)
run "$HUB" report --data-dir hub --period 2026-04-01..2027-03-31 --out "$DIR/review" "${PDF[@]}"

kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null || true
HUB_PID=""
echo
echo "hub log:"; sed 's/^/  /' hub.log
echo
echo "The review material is in $DIR/review (open review.html in a browser${PDF:+, or review.pdf})."
echo "The demonstration's stores and certificates are in $DIR."
