#!/usr/bin/env bash
# Fuzz Pincer's input parsers with cargo-fuzz (libFuzzer): the frame parser and handshake, the
# shell-chain splitter, the JSON5 config + merge patch, the exec-approvals file and the node-invoke
# envelopes (targets in fuzz/fuzz_targets/, what each asserts is at the top of each file).
#
#   scripts/fuzz.sh [--quick] [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 300 s per target, every target, one after another (one core). --quick is the bounded
# pass scripts/test.sh runs (PINCER_FUZZ_SECONDS, default 25 s per target): when no nightly
# toolchain is installed it says so in one line and succeeds, since nightly cannot be downloaded on
# machines without it. Any crash, timeout or out-of-memory input fails the script; the input is
# kept under $CACHE/fuzz/artifacts/<target>/ and the line to replay it is printed.
#
# Everything generated stays outside the checkout: the build in $CACHE/fuzz-target, the grown
# corpus in $CACHE/fuzz/corpus/<target> (the committed seeds in fuzz/corpus/<target> are only
# read), logs and a summary table in $CACHE/fuzz/.
#
# PINCER_FUZZ_SANITIZER (default none): the code under test forbids `unsafe`, so AddressSanitizer
# would only watch dependencies' C/unsafe code at half the speed; set it to `address` for that.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
ALL_TARGETS=(frame_handshake shell_chain config_patch exec_approvals node_invoke)

quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
if ((quick)); then seconds=${PINCER_FUZZ_SECONDS:-25}; else seconds=${1:-300}; [[ $# -gt 0 ]] && shift; fi
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz: seconds per target must be a whole number (got '$seconds')" >&2; exit 2; }
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

if ((seconds == 0)); then echo "fuzz: skipped (0 s per target)"; exit 0; fi

command -v cargo >/dev/null 2>&1 || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: no nightly Rust toolchain on this machine (cargo-fuzz needs one; it cannot be downloaded here)"
  ((quick)) && exit 0
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed: run scripts/setup.sh (or cargo install cargo-fuzz --locked)" >&2
  exit 1
fi

SANITIZER=${PINCER_FUZZ_SANITIZER:-none}
BUILD=(--sanitizer "$SANITIZER" --codegen-units 16 --target-dir "$CACHE/fuzz-target")
mkdir -p "$CACHE/fuzz/logs"
SUMMARY=$CACHE/fuzz/summary.md

echo "fuzz: building ${#targets[@]} target(s) with cargo +nightly fuzz (sanitizer $SANITIZER, log $CACHE/fuzz/logs/build.log)"
# One target: build only it; several: build the crate once (shared dependencies).
only=()
((${#targets[@]} == 1)) && only=("${targets[0]}")
if ! (cd fuzz && cargo +nightly fuzz build "${BUILD[@]}" "${only[@]}") >"$CACHE/fuzz/logs/build.log" 2>&1; then
  tail -n 30 "$CACHE/fuzz/logs/build.log" >&2
  echo "fuzz: build FAILED" >&2
  exit 1
fi

{
  echo "| Target | Seconds | Executions | Exec/s | Coverage (edges) | Features | Corpus | Result |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$SUMMARY"

failed=()
for t in "${targets[@]}"; do
  [[ -d fuzz/corpus/$t ]] || { echo "fuzz: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
  work=$CACHE/fuzz/corpus/$t
  artifacts=$CACHE/fuzz/artifacts/$t
  log=$CACHE/fuzz/logs/$t.log
  mkdir -p "$work" "$artifacts"
  printf 'fuzz: %-16s %4d s ... ' "$t" "$seconds"
  status=0
  # First corpus dir is written to (grown corpus), the seed dir is only read.
  (cd fuzz && cargo +nightly fuzz run "${BUILD[@]}" "$t" "$work" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 -artifact_prefix="$artifacts/") >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n1 | grep -o '[0-9]*$' || true)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -n1 | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || true)
  corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || true)
  if ((status == 0)); then
    result="no crash"
    echo "ok (${execs:-?} runs, ${speed:-?}/s, cov ${cov:-?}, corpus ${corp:-?})"
  else
    artifact=$(grep -oE "(Test unit written to|artifact_prefix.*) [^ ]+" "$log" | tail -n1 | awk '{print $NF}' || true)
    result="FAILED ($(grep -oE 'deadly signal|panicked at [^,]*|ERROR: libFuzzer: [a-z-]+' "$log" | head -n1 || echo "exit $status"))"
    echo "$result"
    grep -m1 -A3 "panicked at" "$log" | sed 's/^/fuzz:   /' >&2 || true
    echo "fuzz:   input: ${artifact:-see $log}" >&2
    echo "fuzz:   replay: (cd fuzz && cargo +nightly fuzz run ${BUILD[*]} $t ${artifact:-<input>})" >&2
    failed+=("$t")
  fi
  echo "| \`$t\` | $seconds | ${execs:-?} | ${speed:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $result |" >>"$SUMMARY"
done

echo "fuzz: summary in $SUMMARY"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (logs in $CACHE/fuzz/logs/)" >&2
  exit 1
fi
