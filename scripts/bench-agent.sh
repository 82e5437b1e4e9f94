#!/usr/bin/env bash
# Agent benchmark (pincer-bench --scenario agent-*): what the gateway adds to a chat turn, and the
# memory and read latency of 1,000 stored sessions. The gateway is a release pincer-gateway child
# process (and, for the side-by-side, the real OpenClaw) configured with a scripted
# OpenAI-compatible provider that runs inside pincer-bench, so client and provider timestamps
# share one clock. Prints each scenario, then a Markdown summary; the JSON lines are kept in $OUT.
#
#   bash scripts/bench-agent.sh                  # everything (~10 min with OpenClaw on 2 cores)
#   OPENCLAW=0 TURNS=50 SESSIONS=100 bash scripts/bench-agent.sh
#   SEED=send bash scripts/bench-agent.sh        # seed the sessions with real chat.send turns
#
# Env: TURNS (200), WARMUP (20), SESSIONS (1000), MESSAGES (200), SEED (store|inject|send),
#      OPENCLAW (1 = also OpenClaw), OPENCLAW_TURNS (30), OUT (JSON-lines file).
# A measurement, not a test: nothing here passes or fails on timing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE
bash scripts/setup.sh >/dev/null
command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
TURNS=${TURNS:-200}
WARMUP=${WARMUP:-20}
SESSIONS=${SESSIONS:-1000}
MESSAGES=${MESSAGES:-200}
SEED=${SEED:-store}
OPENCLAW=${OPENCLAW:-1}
OPENCLAW_TURNS=${OPENCLAW_TURNS:-30}
OUT=${OUT:-$CACHE/logs/bench-agent-$(date +%Y%m%d-%H%M%S).jsonl}
mkdir -p "$(dirname "$OUT")"
if [[ $OPENCLAW == 1 ]]; then
  bash scripts/install-openclaw.sh >/dev/null
  export PINCER_OPENCLAW_BIN=${PINCER_OPENCLAW_BIN:-$CACHE/openclaw/bin/openclaw}
fi

echo "bench-agent: cargo build --release (pincer-gateway, pincer-bench)"
cargo build --release -q -p pincer-gateway -p pincer-tests --bins
BIN=$CARGO_TARGET_DIR/release
FAILED=0
# A failed scenario is reported (its JSON carries the error) and the others still run.
bench() { "$BIN/pincer-bench" --gateway-bin "$BIN/pincer-gateway" --json-out "$OUT" "$@" || FAILED=1; }

echo "bench-agent: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), results in $OUT"
bench --scenario agent-turn --turns "$TURNS" --warmup "$WARMUP" --session-turns 1
bench --scenario agent-turn --turns "$TURNS" --warmup "$WARMUP" --session-turns 0
bench --scenario agent-tool --turns "$TURNS" --warmup "$WARMUP" --session-turns 1
bench --scenario agent-sessions --sessions "$SESSIONS" --messages "$MESSAGES" --seed "$SEED"
if [[ $OPENCLAW == 1 ]]; then
  bench --scenario agent-turn --spawn-openclaw --turns "$OPENCLAW_TURNS" --warmup 3 --session-turns 1
  bench --scenario agent-tool --spawn-openclaw --turns "$OPENCLAW_TURNS" --warmup 3 --session-turns 1
fi

echo "== summary (load average now $(cut -d' ' -f1-3 /proc/loadavg)) =="
"$BIN/pincer-bench" --summarize "$OUT"
exit "$FAILED"
