#!/usr/bin/env bash
# Run Pincer's headless gateway (`pincer-gateway run`) from this checkout: set up the machine, build
# the release binary, and exec it. Arguments go to `pincer-gateway run`.
#
# State lives in $PINCER_STATE_DIR (default ~/.pincer). Token auth needs a token: if none is given
# (--token flag or PINCER_GATEWAY_TOKEN), one is generated once into $PINCER_STATE_DIR/gateway.token
# (mode 0600) and reused on every later run, so clients configured once keep working.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE
bash scripts/setup.sh >&2

command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
echo "run-gateway: cargo build --release -p pincer-gateway" >&2
cargo build --release -q -p pincer-gateway
BIN=$CARGO_TARGET_DIR/release/pincer-gateway

STATE=${PINCER_STATE_DIR:-$HOME/.pincer}
mkdir -p "$STATE"
chmod 0700 "$STATE"
export PINCER_STATE_DIR=$STATE

token_given=0
for a in "$@"; do
  case $a in --token | --token=*) token_given=1 ;; esac
done
if [[ $token_given == 0 && -z "${PINCER_GATEWAY_TOKEN:-}" ]]; then
  TOKEN_FILE=$STATE/gateway.token
  if [[ ! -s "$TOKEN_FILE" ]]; then
    # 32 random bytes, hex: safe in URLs, shells and JSON without quoting.
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$TOKEN_FILE")
    echo "run-gateway: generated a gateway token in $TOKEN_FILE" >&2
  fi
  PINCER_GATEWAY_TOKEN=$(<"$TOKEN_FILE")
  export PINCER_GATEWAY_TOKEN
  cat >&2 <<MSG
run-gateway: clients authenticate with the token in $TOKEN_FILE, e.g.
  openclaw gateway call health --url ws://127.0.0.1:<port> --token "\$(cat $TOKEN_FILE)"
MSG
fi

# Pass the state dir as a flag only if this build of the binary has one; the env var covers the rest.
args=()
if "$BIN" run --help 2>/dev/null | grep -q -- '--state-dir'; then
  args+=(--state-dir "$STATE")
fi
# (${args[@]+...} keeps bash 3.2 on macOS happy with an empty array under set -u)
exec "$BIN" run ${args[@]+"${args[@]}"} "$@"
