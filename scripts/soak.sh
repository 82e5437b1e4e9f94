#!/usr/bin/env bash
# Soak: release pincer-gateway + pincer-node under steady traffic (chat turns against a scripted
# provider, node.invoke system.which, reconnecting clients) for MINUTES, RSS sampled every
# SAMPLE_SECS; prints a summary (RSS start / end / peak, slope after warm-up in MiB/hour) and
# keeps the full JSON report (every sample) in $OUT. A measurement, not a test.
#
#   bash scripts/soak.sh                 # one hour
#   MINUTES=5 WARMUP_MINUTES=1 bash scripts/soak.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE
bash scripts/setup.sh >/dev/null
command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
MINUTES=${MINUTES:-60}
SAMPLE_SECS=${SAMPLE_SECS:-10}
WARMUP_MINUTES=${WARMUP_MINUTES:-5}
OUT=${OUT:-$CACHE/logs/soak-$(date +%Y%m%d-%H%M%S).json}
mkdir -p "$(dirname "$OUT")"

echo "soak: cargo build --release (pincer-gateway, pincer-node, pincer-soak)"
cargo build --release -q -p pincer-gateway -p pincer-node -p pincer-tests --bins
BIN=$CARGO_TARGET_DIR/release
echo "soak: $MINUTES min, sampling every $SAMPLE_SECS s, warm-up $WARMUP_MINUTES min; report in $OUT"
"$BIN/pincer-soak" --gateway-bin "$BIN/pincer-gateway" --node-bin "$BIN/pincer-node" \
  --minutes "$MINUTES" --sample-secs "$SAMPLE_SECS" --warmup-minutes "$WARMUP_MINUTES" --out "$OUT" >/dev/null
python3 - "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["traffic"]
print(f"soak: {r['minutes']} min; turns {t['turnsOk']} ok / {t['turnsFailed']} failed, invokes {t['invokesOk']} / {t['invokesFailed']}, reconnects {t['reconnectsOk']} / {t['reconnectsFailed']}")
print("| process | start MiB | after warm-up MiB | end MiB | peak MiB | slope after warm-up (MiB/h) |")
print("|---|---|---|---|---|---|")
for name in ("gateway", "node"):
    p = r[name]
    print(f"| pincer-{name} | {p['startMiB']} | {p['afterWarmupMiB']} | {p['endMiB']} | {p['peakMiB']} | {p['slopeMiBPerHour']} |")
PY
