#!/usr/bin/env bash
# Benchmarks: Pincer's gateway against the real OpenClaw gateway (see tests/, binary pincer-bench).
# Prepares the machine and the OpenClaw peer like scripts/test.sh, builds in release mode, then runs
# the bench harness; arguments go to pincer-bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE
bash scripts/setup.sh
bash scripts/install-openclaw.sh

command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
export PINCER_OPENCLAW_BIN=${PINCER_OPENCLAW_BIN:-$CACHE/openclaw/bin/openclaw}

echo "bench: cargo build --release --workspace --bins"
cargo build --release -q --workspace --bins
exec cargo run --release -q -p pincer-tests --bin pincer-bench -- "$@"
