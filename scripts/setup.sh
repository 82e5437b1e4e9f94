#!/usr/bin/env bash
# Make this machine able to build and test Pincer. Idempotent and quiet: one line per step, details
# in ${PINCER_CACHE:-$HOME/.cache/pincer}/logs/setup.log. A second run takes well under a second.
#
# What it ensures:
#   - Debian packages the Rust build and tests need (apt only when something is missing; needs root
#     or sudo then). Non-Debian hosts (macOS, Windows) are told what to install and skipped.
#   - a Rust toolchain is present (it cannot be downloaded here: rustup's own server is not a package
#     registry, and Debian's cargo is older than the workspace's rust-version).
#   - cargo-nextest (the test runner scripts/test.sh uses), from crates.io if missing.
#   - cargo-fuzz (scripts/fuzz.sh), from crates.io if missing; says whether the nightly toolchain
#     fuzzing needs is there (it cannot be downloaded here; without it fuzzing is skipped).
# Only package registries are contacted (Debian's apt mirror, crates.io).
set -euo pipefail

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
LOG=$CACHE/logs/setup.log
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

# Debian packages, kept minimal:
#   build-essential  cc/ar/make for crates that build C (rusqlite's bundled SQLite, ring, ...)
#   pkg-config libssl-dev  for any -sys crate that links the system OpenSSL (e.g. native-tls)
#   ca-certificates  TLS to crates.io / the npm registry
#   procps           ps/pgrep/pkill used by process-level tests to inspect children
#   libclang-dev libv4l-dev  nokhwa (pincer-node camera.*): bindgen needs libclang for the V4L2 bindings
#   libpipewire-0.3-dev libspa-0.2-dev libgbm-dev libegl-dev libwayland-dev
#   libxcb-randr0-dev libxcb-shm0-dev libdrm-dev  xcap (pincer-node screen.*): X11 + Wayland capture link deps
#   dbus             dbus-daemon for the private bus the fake GeoClue service runs on (location.get tests)
#   xvfb xauth       xvfb-run, to run the screen capture tests against a real (virtual) display
#   libdbus-1-dev    keyring's Secret Service backend (pincer-node keeps its identity in the OS keyring)
#   dunst            a real notification daemon for the system.notify tests (on a private session bus)
#   gnome-keyring    a real Secret Service for the node identity-in-keyring test
# (No libsqlite3-dev: rusqlite is built with its `bundled` feature. Tauri's webkit/gtk and voice's
#  ALSA dev packages belong here once those crates join the workspace.)
APT_PACKAGES=(build-essential pkg-config libssl-dev ca-certificates procps
  libclang-dev libv4l-dev
  libpipewire-0.3-dev libspa-0.2-dev libgbm-dev libegl-dev libwayland-dev libxcb-randr0-dev libxcb-shm0-dev libdrm-dev
  dbus xvfb xauth
  libdbus-1-dev dunst gnome-keyring)
# The OpenClaw peer is installed with npm (scripts/install-openclaw.sh); bring Debian's only if the
# machine has no npm at all (the dev/CI image ships node+npm already).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

# --- 1. system packages ------------------------------------------------------------------------
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # "ii" = installed; anything else (absent, half-installed, removed) counts as missing.
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" == ii* ]] || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    say "system packages ok (${APT_PACKAGES[*]})"
  else
    if [[ $(id -u) -eq 0 ]]; then SUDO=()
    elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo)
    else die "need root or sudo to install: ${missing[*]}"
    fi
    printf 'setup: apt-get install %s ... ' "${missing[*]}"
    t0=$SECONDS
    # One `apt-get update` per install: a fresh machine may have no package lists at all.
    if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG" 2>&1 &&
       "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
         "${missing[@]}" >>"$LOG" 2>&1; then
      echo "ok ($((SECONDS - t0)) s)"
    else
      echo "FAILED (see $LOG)"; tail -n 20 "$LOG" >&2; exit 1
    fi
  fi
else
  say "not a Debian-like system: skipping apt (needs a C compiler, pkg-config, OpenSSL headers, node+npm)"
fi

# --- 2. Rust toolchain -------------------------------------------------------------------------
# rustup installs put cargo in ~/.cargo/bin, which non-login shells may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup, stable >= 1.85) first"
say "rust ok ($(rustc --version 2>/dev/null || echo 'rustc ?'))"

# --- 3. cargo-nextest --------------------------------------------------------------------------
# The dev/CI image ships it; elsewhere build it from crates.io (prebuilt binaries live on GitHub,
# which is not reachable). The version is pinned so a newer release cannot demand a newer rustc.
# It only spawns test processes, so a lightly optimised build is plenty: opt-level 1 without LTO
# compiles several times faster on 2 cores than its own release profile.
NEXTEST_VERSION=${PINCER_NEXTEST_VERSION:-0.9.151}
if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest ok ($(cargo nextest --version 2>/dev/null | head -n1))"
else
  printf 'setup: cargo install cargo-nextest@%s --locked (several minutes, once) ... ' "$NEXTEST_VERSION"
  t0=$SECONDS
  if CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
     CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=false \
     cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked >>"$LOG" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    echo "FAILED (see $LOG)"; tail -n 20 "$LOG" >&2; exit 1
  fi
fi

# --- 4. cargo-fuzz and nightly (scripts/fuzz.sh) -----------------------------------------------
# cargo-fuzz itself builds on stable; the fuzz targets need a nightly toolchain (libFuzzer's
# sanitizer-coverage flags). Pinned like nextest; a small build, so the default profile is fine.
FUZZ_VERSION=${PINCER_CARGO_FUZZ_VERSION:-0.13.2}
if cargo fuzz --version >/dev/null 2>&1; then
  say "cargo-fuzz ok ($(cargo fuzz --version 2>/dev/null | head -n1))"
else
  printf 'setup: cargo install cargo-fuzz@%s --locked (a minute or two, once) ... ' "$FUZZ_VERSION"
  t0=$SECONDS
  if cargo install cargo-fuzz --version "$FUZZ_VERSION" --locked >>"$LOG" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    echo "FAILED (see $LOG)"; tail -n 20 "$LOG" >&2; exit 1
  fi
fi
if cargo +nightly --version >/dev/null 2>&1; then
  say "nightly ok ($(cargo +nightly --version 2>/dev/null))"
else
  say "no nightly toolchain: scripts/fuzz.sh will skip fuzzing (rustup toolchain install nightly where rustup's server is reachable)"
fi
