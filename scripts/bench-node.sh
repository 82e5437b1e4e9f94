#!/usr/bin/env bash
# Node-host benchmark: `node.invoke system.which` round trips and node RSS (idle, and peak under
# load) for Pincer's pincer-node and for OpenClaw's node host, each connected to the same
# release-built pincer-gateway (pincer-bench --scenario node-host). One JSON object per node.
#
#   bash scripts/bench-node.sh                    # both node hosts, 2000 invokes each
#   N=500 NODES=pincer bash scripts/bench-node.sh
#
# A measurement, not a test: nothing here passes or fails on timing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE
bash scripts/setup.sh >/dev/null
command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
N=${N:-2000}
NODES=${NODES:-"pincer openclaw"}
if [[ " $NODES " == *" openclaw "* ]]; then bash scripts/install-openclaw.sh >/dev/null; fi
OPENCLAW=${PINCER_OPENCLAW_BIN:-$CACHE/openclaw/bin/openclaw}

cargo build --release -q -p pincer-gateway -p pincer-node -p pincer-tests --bins
BIN=$CARGO_TARGET_DIR/release
TOKEN=bench-node-token-0123456789
PORT=${PORT:-28797}
URL=ws://127.0.0.1:$PORT
WORK=$(mktemp -d /tmp/pincer-bench-node.XXXXXX)
GW_PID=""
cleanup() { [[ -n $GW_PID ]] && kill -TERM "$GW_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN/pincer-gateway" run --port "$PORT" --token "$TOKEN" --state-dir "$WORK/gateway" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
bench() { "$BIN/pincer-bench" --url "$URL" --token "$TOKEN" --json --scenario node-host --n "$N" "$@"; }
for _ in $(seq 100); do  # the gateway is up within milliseconds; allow 10 s
  "$BIN/pincer-bench" --url "$URL" --token "$TOKEN" --scenario health --n 1 >/dev/null 2>&1 && break
  sleep 0.1
done

if [[ " $NODES " == *" pincer "* ]]; then
  bench --label pincer-node --node-cmd "exec $BIN/pincer-node run --url $URL --token $TOKEN --secrets file \
    --state-dir $WORK/pincer-node --name bench-pincer-node --log-level warn 2>>$WORK/pincer-node.log"
fi
if [[ " $NODES " == *" openclaw "* ]]; then
  OC=$WORK/openclaw-node; mkdir -p "$OC/home" "$OC/logs"
  echo "{\"logging\":{\"file\":\"$OC/logs/openclaw.log\"}}" >"$OC/openclaw.json"
  bench --label openclaw-node --node-cmd "exec env -u OPENCLAW_GATEWAY_URL HOME=$OC/home OPENCLAW_STATE_DIR=$OC \
    OPENCLAW_CONFIG_PATH=$OC/openclaw.json OPENCLAW_GATEWAY_TOKEN=$TOKEN OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_SKIP_CHANNELS=1 \
    OPENCLAW_NO_AUTO_UPDATE=1 OPENCLAW_NO_RESPAWN=1 OPENCLAW_OFFLINE=1 DO_NOT_TRACK=1 \
    $OPENCLAW node run --host 127.0.0.1 --port $PORT --display-name bench-openclaw-node >>$OC/node.out 2>&1"
fi
