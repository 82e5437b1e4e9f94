#!/usr/bin/env bash
# Run Pincer's headless gateway (`pincer-gateway run`) from this checkout: set up the machine, build
# the release binary, and exec it. Arguments go to `pincer-gateway run` (see `--help` there).
#
# State lives in --state-dir / $PINCER_STATE_DIR (default ~/.pincer). Token auth needs a token: if
# none is given (--token, --password, PINCER_GATEWAY_TOKEN/PASSWORD, or a token in the config file),
# one is generated once into <state-dir>/gateway.token (mode 0600) and reused on every later run, so
# clients configured once keep working.
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

# Find what the arguments already decide (the binary itself reads the same env vars).
STATE=${PINCER_STATE_DIR:-$HOME/.pincer}
CONFIG=${PINCER_CONFIG:-}
auth_given=0
[[ -n "${PINCER_GATEWAY_TOKEN:-}${PINCER_GATEWAY_PASSWORD:-}" ]] && auth_given=1
prev=
for a in "$@"; do
  case $prev in
    --state-dir) STATE=$a ;;
    --config) CONFIG=$a ;;
  esac
  case $a in
    --token | --token=* | --password | --password=*) auth_given=1 ;;
    --state-dir=*) STATE=${a#--state-dir=} ;;
    --config=*) CONFIG=${a#--config=} ;;
  esac
  prev=$a
done
CONFIG=${CONFIG:-$STATE/pincer.json}
# A config that sets its own token/password wins; a coarse check is enough to stay out of its way.
[[ -f "$CONFIG" ]] && grep -Eq '(token|password)' "$CONFIG" && auth_given=1

mkdir -p "$STATE"
chmod 0700 "$STATE"
export PINCER_STATE_DIR=$STATE

if [[ $auth_given == 0 ]]; then
  TOKEN_FILE=$STATE/gateway.token
  if [[ ! -s "$TOKEN_FILE" ]]; then
    # 32 random bytes as hex: safe in URLs, shells and JSON without quoting.
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$TOKEN_FILE")
    echo "run-gateway: generated a gateway token in $TOKEN_FILE" >&2
  fi
  PINCER_GATEWAY_TOKEN=$(<"$TOKEN_FILE")
  export PINCER_GATEWAY_TOKEN
  cat >&2 <<MSG
run-gateway: clients authenticate with the token in $TOKEN_FILE, e.g.
  pincer-gateway nodes list --url ws://127.0.0.1:<port> --token "\$(cat $TOKEN_FILE)"
  openclaw gateway call health --url ws://127.0.0.1:<port> --token "\$(cat $TOKEN_FILE)"
MSG
fi

exec "$BIN" run "$@"
